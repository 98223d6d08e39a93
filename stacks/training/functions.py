"""The three Lambda functions of the training component, built from one code asset.

Each function gets its own role (no managed policies) and its own log group, so every permission
is one the handler uses: see stacks/training/runtime/workshop_runtime/. Their bucket access
(Prepare reads the manifest, Report writes report.json) is granted by the stack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.common.arns import sagemaker_quotas_arn, training_job_arn, training_log_group_arn
from stacks.common.iam import add_statements
from stacks.common.logs import log_group
from stacks.common.nag import acknowledge, acknowledge_wildcard
from stacks.common.tokens import json_string_list

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
RUNTIME = lambda_.Runtime.PYTHON_3_12


class TrainingFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        manifest_key: str,
        output_prefix: str,
        default_hyperparameters: Mapping[str, str],
        instance_types: Sequence[str],
        job_name_prefix: str,
        request_quota_increase: bool,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_retention_days = log_retention_days
        # One asset for all three handlers; tests and caches stay out of the zip.
        self._code = lambda_.Code.from_asset(
            str(RUNTIME_DIR), exclude=["**/__pycache__", "**/*.pyc"]
        )

        self.prepare = self._function(
            "Prepare",
            handler="workshop_runtime.prepare.handler",
            description="Merges hyperparameters from settings, manifest and input; picks a GPU type with quota",
            timeout=cdk.Duration.minutes(1),
            environment={
                "BUCKET": bucket_name,
                "MANIFEST_KEY": manifest_key,
                "DEFAULT_HYPERPARAMETERS": json.dumps(
                    dict(default_hyperparameters), sort_keys=True
                ),
                "INSTANCE_TYPES": json_string_list(instance_types),
                "JOB_NAME_PREFIX": job_name_prefix,
            },
        )
        self._grant_quota_lookup(self.prepare.role)

        self.report = self._function(
            "Report",
            handler="workshop_runtime.report.handler",
            description="Writes per-epoch accuracy of a finished training job to output/<job>/report.json",
            timeout=cdk.Duration.minutes(2),
            environment={"BUCKET": bucket_name, "OUTPUT_PREFIX": output_prefix},
        )
        self._grant_reading_own_jobs(self.report.role, job_name_prefix)

        self.preflight = self._function(
            "Preflight",
            handler="workshop_runtime.preflight.handler",
            description="Deploy-time GPU quota check for the training instance types",
            timeout=cdk.Duration.minutes(5),
            environment={},
        )
        self._grant_quota_lookup(self.preflight.role)
        if request_quota_increase:
            self._grant_quota_increase(self.preflight.role)

    def _grant_quota_lookup(self, role: iam.Role) -> None:
        any_job = training_job_arn(self, "*")
        policy = add_statements(
            role,
            iam.PolicyStatement(
                sid="ReadSageMakerQuotas",
                actions=[
                    "servicequotas:ListServiceQuotas",
                    "servicequotas:ListAWSDefaultServiceQuotas",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="CountRunningTrainingJobs",
                actions=["sagemaker:ListTrainingJobs"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                # Jobs of every name use the account's quota, not only this stack's.
                sid="ReadRunningJobInstanceTypes",
                actions=["sagemaker:DescribeTrainingJob"],
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

    def _grant_reading_own_jobs(self, role: iam.Role, job_name_prefix: str) -> None:
        training_logs = training_log_group_arn(self)
        own_streams = f"{training_logs}:log-stream:{job_name_prefix}*"
        own_jobs = training_job_arn(self, f"{job_name_prefix}*")
        policy = add_statements(
            role,
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

    def _grant_quota_increase(self, role: iam.Role) -> None:
        quotas = sagemaker_quotas_arn(self)
        policy = add_statements(
            role,
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

    def _function(
        self,
        name: str,
        *,
        handler: str,
        description: str,
        timeout: cdk.Duration,
        environment: dict[str, str],
    ) -> lambda_.Function:
        logs = log_group(self, f"{name}Logs", retention_days=self._log_retention_days)
        role = iam.Role(
            self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        logs.grant_write(role)
        function = lambda_.Function(
            self,
            name,
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=self._code,
            timeout=timeout,
            memory_size=256,
            environment=environment or None,
            role=role,
            log_group=logs,
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "The training runtime is written and tested for Python 3.12 (docs/contracts.md), which "
            "Lambda supports until 2028; moving to a newer runtime is a tested change of its own.",
        )
        return function
