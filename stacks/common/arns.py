"""ARNs and SageMaker's fixed names that several components scope permissions to."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

from stacks.training.runtime.workshop_runtime.report import LOG_GROUP

# SageMaker's fixed log group for training jobs (it creates it on first use); the Report Lambda
# and `make results` read it.
TRAINING_LOG_GROUP = LOG_GROUP
# Where training jobs publish their metrics (train:accuracy, ...), for the role and the dashboard.
TRAINING_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"


def log_group_arn(scope: IConstruct, name: str) -> str:
    return cdk.Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name=name,
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )


def training_log_group_arn(scope: IConstruct) -> str:
    return log_group_arn(scope, TRAINING_LOG_GROUP)


def training_job_arn(scope: IConstruct, name_pattern: str) -> str:
    return cdk.Stack.of(scope).format_arn(
        service="sagemaker", resource="training-job", resource_name=name_pattern
    )


def sagemaker_quotas_arn(scope: IConstruct) -> str:
    """Every SageMaker quota: quota codes per instance type are only known at run time."""
    return cdk.Stack.of(scope).format_arn(
        service="servicequotas", resource="sagemaker", resource_name="*"
    )
