"""The three Lambda functions of the training component, built from one code asset.

Each function gets its own role (no managed policies) and its own log group, so every permission
below is one the handler uses: see stacks/training/runtime/workshop_runtime/.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.log_retention import retention
from stacks.settings import WorkshopSettings
from stacks.storage import WorkshopBucket
from stacks.training.execution_role import training_log_group_arn

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
RUNTIME = lambda_.Runtime.PYTHON_3_12


def training_job_arn(scope: Construct, name_pattern: str) -> str:
    return cdk.Stack.of(scope).format_arn(
        service="sagemaker", resource="training-job", resource_name=name_pattern
    )


def sagemaker_quotas_arn(scope: Construct) -> str:
    """Every SageMaker quota: quota codes per instance type are only known at run time."""
    return cdk.Stack.of(scope).format_arn(
        service="servicequotas", resource="sagemaker", resource_name="*"
    )


class TrainingFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WorkshopSettings,
        storage: WorkshopBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        training = settings.training
        # One asset for all three handlers; tests and caches stay out of the zip.
        code = lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["**/__pycache__", "**/*.pyc"])
        instance_types = json.dumps(list(training.instance_types))
        quota_lookup = [
            iam.PolicyStatement(
                sid="ReadSageMakerQuotas",
                # Neither action supports resource-level permissions.
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
                resources=[training_job_arn(self, "*")],
            ),
        ]

        self.prepare = self._function(
            "Prepare",
            handler="workshop_runtime.prepare.handler",
            description="Merges hyperparameters from settings, manifest and input; picks a GPU type with quota",
            code=code,
            timeout=cdk.Duration.minutes(1),
            environment={
                "BUCKET": storage.bucket.bucket_name,
                "MANIFEST_KEY": settings.manifest_key,
                "DEFAULT_HYPERPARAMETERS": json.dumps(training.hyperparameters, sort_keys=True),
                "INSTANCE_TYPES": instance_types,
                "JOB_NAME_PREFIX": training.job_name_prefix,
            },
            statements=[
                iam.PolicyStatement(
                    sid="ReadManifest",
                    actions=["s3:GetObject"],
                    resources=[storage.object_arn(settings.manifest_key)],
                ),
                *quota_lookup,
            ],
        )

        training_logs = training_log_group_arn(self)
        self.report = self._function(
            "Report",
            handler="workshop_runtime.report.handler",
            description="Writes per-epoch accuracy of a finished training job to output/<job>/report.json",
            code=code,
            timeout=cdk.Duration.minutes(2),
            environment={
                "BUCKET": storage.bucket.bucket_name,
                "OUTPUT_PREFIX": settings.prefixes.output,
            },
            statements=[
                iam.PolicyStatement(
                    # Authorized on the group ARN with ':*', not the bare ARN (tests/fidelity).
                    sid="FindTrainingLogStreams",
                    actions=["logs:DescribeLogStreams"],
                    resources=[f"{training_logs}:*"],
                ),
                iam.PolicyStatement(
                    sid="ReadTrainingLogs",
                    actions=["logs:GetLogEvents"],
                    resources=[f"{training_logs}:log-stream:{training.job_name_prefix}*"],
                ),
                iam.PolicyStatement(
                    sid="DescribeOwnTrainingJobs",
                    actions=["sagemaker:DescribeTrainingJob"],
                    resources=[training_job_arn(self, f"{training.job_name_prefix}*")],
                ),
                iam.PolicyStatement(
                    sid="WriteReports",
                    actions=["s3:PutObject"],
                    resources=[storage.objects_arn(settings.prefixes.output)],
                ),
            ],
        )

        preflight_statements = [*quota_lookup]
        if training.request_quota_increase:
            preflight_statements += [
                iam.PolicyStatement(
                    # Both are authorized on the quota's ARN (<service>/<quota code>).
                    sid="RequestSageMakerQuotaIncrease",
                    actions=[
                        "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
                        "servicequotas:RequestServiceQuotaIncrease",
                    ],
                    resources=[sagemaker_quotas_arn(self)],
                ),
            ]
        self.preflight = self._function(
            "Preflight",
            handler="workshop_runtime.preflight.handler",
            description="Deploy-time GPU quota check for the training instance types",
            code=code,
            timeout=cdk.Duration.minutes(5),
            environment={},
            statements=preflight_statements,
        )

    def _function(
        self,
        name: str,
        *,
        handler: str,
        description: str,
        code: lambda_.Code,
        timeout: cdk.Duration,
        environment: dict[str, str],
        statements: list[iam.PolicyStatement],
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=retention(self._settings.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        log_group.grant_write(role)
        for statement in statements:
            role.add_to_policy(statement)
        return lambda_.Function(
            self,
            name,
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code,
            timeout=timeout,
            memory_size=256,
            environment=environment or None,
            role=role,
            log_group=log_group,
        )
