"""The Lambda functions of a training run and of the deploy-time quota check, from one code asset.

Prepare, Choose, Report and Notify (only with a notification topic) are the state machine's steps;
Preflight answers the quota custom resource. Each declares the calls its handler makes (IAM_ACTIONS
or IAM_STATEMENTS in stacks/training/runtime/workshop_runtime/) and its role allows those, scoped
here; bucket and topic access is granted by the stack, where the components meet.

Notify and Preflight touch no seat's data, so a stack with several seats makes them once
(`account_functions`) and each seat's TrainingFunctions only Prepare, Choose and Report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.common.arns import sagemaker_quotas_arn, training_job_arn, training_log_group_arn
from stacks.common.iam import add_statements
from stacks.common.nag import acknowledge, acknowledge_wildcard
from stacks.common.tokens import json_string_list
from stacks.training.lambdas import runtime_function
from stacks.training.runtime.workshop_runtime import choose

# How often a run waiting for quota checks again (Choose's WaitForQuota interval).
QUOTA_POLL_SECONDS = choose.DEFAULT_POLL_SECONDS


@dataclass(frozen=True)
class RunPolicy:
    """The training.* settings that decide how a run picks, retries and waits for its instances."""

    instance_types: Sequence[str]
    spot: bool
    spot_fallback_to_on_demand: bool
    instance_count: int
    max_runtime_seconds: int
    wait_for_quota_minutes: int
    max_attempts: int


@dataclass(frozen=True)
class RunStorage:
    """Where a run reads and writes: the bucket and the keys the settings name."""

    bucket_name: str
    manifest_key: str
    output_prefix: str
    queue_prefix: str


class TrainingFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        storage: RunStorage,
        policy: RunPolicy,
        default_hyperparameters: Mapping[str, str],
        job_name_prefix: str,
        request_quota_increase: bool,
        topic_arn: str | None,
        log_retention_days: int,
        with_account_functions: bool = True,
    ) -> None:
        """`with_account_functions`: also Notify (with a topic) and Preflight, as a stack with one
        seat has them; a seat of several gets them from `account_functions` instead."""
        super().__init__(scope, construct_id)
        self._log_retention_days = log_retention_days
        bucket = storage.bucket_name

        self.prepare = self._function(
            "Prepare",
            handler="workshop_runtime.prepare.handler",
            description="Merges hyperparameters from settings, manifest and input; names the run and sets its limits",
            timeout=cdk.Duration.minutes(1),
            environment={
                "BUCKET": bucket,
                "MANIFEST_KEY": storage.manifest_key,
                "DEFAULT_HYPERPARAMETERS": json.dumps(
                    dict(default_hyperparameters), sort_keys=True
                ),
                "JOB_NAME_PREFIX": job_name_prefix,
                "WAIT_FOR_QUOTA_MINUTES": str(policy.wait_for_quota_minutes),
                "MAX_ATTEMPTS": str(policy.max_attempts),
            },
        )

        self.choose = self._function(
            "Choose",
            handler="workshop_runtime.choose.handler",
            description="Before each attempt: starts on the first preferred type with free quota, waits in line, or gives up",
            timeout=cdk.Duration.minutes(2),
            environment={
                "INSTANCE_TYPES": json_string_list(policy.instance_types),
                "SPOT": _flag(policy.spot),
                "SPOT_FALLBACK_TO_ON_DEMAND": _flag(policy.spot_fallback_to_on_demand),
                "INSTANCE_COUNT": str(policy.instance_count),
                "MAX_RUNTIME_SECONDS": str(policy.max_runtime_seconds),
                "OUTPUT_URI": f"s3://{bucket}/{storage.output_prefix}",
                "QUEUE_BUCKET": bucket,
                "QUEUE_PREFIX": storage.queue_prefix,
                "POLL_SECONDS": str(QUOTA_POLL_SECONDS),
            },
        )
        _grant_quota_lookup(self, self.choose.role)

        self.report = self._function(
            "Report",
            handler="workshop_runtime.report.handler",
            description="Writes per-epoch accuracy and the attempts of a finished job to output/<job>/report.json",
            timeout=cdk.Duration.minutes(2),
            environment={"BUCKET": bucket, "OUTPUT_PREFIX": storage.output_prefix},
        )
        _grant_reading_own_jobs(self, self.report.role, job_name_prefix)

        self.account: AccountFunctions | None = None
        self.notify: lambda_.Function | None = None
        self.preflight: lambda_.Function | None = None
        if with_account_functions:
            self.account = account_functions(
                self,
                topic_arn=topic_arn,
                request_quota_increase=request_quota_increase,
                log_retention_days=log_retention_days,
            )
            self.notify, self.preflight = self.account.notify, self.account.preflight

    def _function(
        self,
        name: str,
        *,
        handler: str,
        description: str,
        timeout: cdk.Duration,
        environment: dict[str, str],
    ) -> lambda_.Function:
        return runtime_function(
            self,
            name,
            handler=handler,
            description=description,
            timeout=timeout,
            environment=environment,
            log_retention_days=self._log_retention_days,
        )


@dataclass(frozen=True)
class AccountFunctions:
    """The functions that serve every seat of the account: Notify (only with a topic) and the
    deploy-time Preflight."""

    notify: lambda_.Function | None
    preflight: lambda_.Function


def account_functions(
    scope: Construct,
    *,
    topic_arn: str | None,
    request_quota_increase: bool,
    log_retention_days: int,
) -> AccountFunctions:
    notify = None
    if topic_arn is not None:
        notify = runtime_function(
            scope,
            "Notify",
            handler="workshop_runtime.notify.handler",
            description="Emails how a training run ended: results and attempts, or the failing step",
            timeout=cdk.Duration.minutes(1),
            environment={"TOPIC_ARN": topic_arn},
            log_retention_days=log_retention_days,
        )
    preflight = runtime_function(
        scope,
        "Preflight",
        handler="workshop_runtime.preflight.handler",
        description="Deploy-time GPU quota check for the training instance types",
        timeout=cdk.Duration.minutes(5),
        environment={},
        log_retention_days=log_retention_days,
    )
    _grant_quota_lookup(scope, preflight.role)
    if request_quota_increase:
        _grant_quota_increase(scope, preflight.role)
    return AccountFunctions(notify=notify, preflight=preflight)


def _grant_quota_lookup(scope: Construct, role: iam.IRole | None) -> None:
    any_job = training_job_arn(scope, "*")
    actions = choose.IAM_STATEMENTS
    policy = add_statements(
        _role(role),
        iam.PolicyStatement(
            sid="ReadSageMakerQuotas",
            actions=list(actions["ReadSageMakerQuotas"]),
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="CountRunningTrainingJobs",
            actions=list(actions["CountRunningTrainingJobs"]),
            resources=["*"],
        ),
        iam.PolicyStatement(
            # Jobs of every name use the account's quota, not only this stack's.
            sid="ReadRunningJobInstanceTypes",
            actions=list(actions["ReadRunningJobInstanceTypes"]),
            resources=[any_job],
        ),
    )
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "servicequotas:ListServiceQuotas, ListAWSDefaultServiceQuotas and "
        "sagemaker:ListTrainingJobs support no resource-level permissions; all are read-only.",
    )
    acknowledge_wildcard(
        policy,
        any_job,
        "Running training jobs of any name use the account's instance quota, so the quota "
        "check describes them all (read-only).",
    )


def _grant_reading_own_jobs(scope: Construct, role: iam.IRole | None, job_name_prefix: str) -> None:
    training_logs = training_log_group_arn(scope)
    own_streams = f"{training_logs}:log-stream:{job_name_prefix}*"
    own_jobs = training_job_arn(scope, f"{job_name_prefix}*")
    policy = add_statements(
        _role(role),
        iam.PolicyStatement(
            # Authorized on the group ARN ending ':*', not the bare ARN (tests/fidelity).
            sid="FindTrainingLogStreams",
            actions=["logs:DescribeLogStreams"],
            resources=[f"{training_logs}:*"],
        ),
        iam.PolicyStatement(
            sid="ReadTrainingLogs", actions=["logs:GetLogEvents"], resources=[own_streams]
        ),
        iam.PolicyStatement(
            sid="DescribeOwnTrainingJobs",
            actions=["sagemaker:DescribeTrainingJob"],
            resources=[own_jobs],
        ),
    )
    acknowledge_wildcard(
        policy,
        f"{training_logs}:*",
        "DescribeLogStreams of SageMaker's training log group, authorized on the group ARN "
        "ending ':*' only; the call filters by this stack's job name.",
    )
    acknowledge_wildcard(
        policy,
        own_streams,
        "Reads the log streams of this stack's training jobs only (their names start with the "
        "job prefix).",
    )
    acknowledge_wildcard(
        policy,
        own_jobs,
        "Describes this stack's training jobs only (their names start with the job prefix).",
    )


def _grant_quota_increase(scope: Construct, role: iam.IRole | None) -> None:
    quotas = sagemaker_quotas_arn(scope)
    policy = add_statements(
        _role(role),
        iam.PolicyStatement(
            # Both are authorized on the quota's ARN (<service>/<quota code>).
            sid="RequestSageMakerQuotaIncrease",
            actions=[
                "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
                "servicequotas:RequestServiceQuotaIncrease",
            ],
            resources=[quotas],
        ),
    )
    acknowledge_wildcard(
        policy,
        quotas,
        "The quota code of each SageMaker instance type is looked up by name at run time; the "
        "request is limited to SageMaker quotas and enabled by requestQuotaIncrease.",
    )


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _role(role: iam.IRole | None) -> iam.Role:
    # runtime_function gives every function a Role of its own.
    if not isinstance(role, iam.Role):
        raise TypeError(f"expected the function's own iam.Role, got {role!r}")
    return role
