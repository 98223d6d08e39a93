"""cdk-nag AwsSolutions acknowledgments, each on the narrowest construct with a concrete reason.

The IAM5 findings are acknowledged one by one: a new wildcard anywhere still fails the synth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct

if TYPE_CHECKING:
    from stacks.workshop_stack import WorkshopStack

PARTITION_ARN = "arn:<AWS::Partition>"
REGIONAL = "<AWS::Region>:<AWS::AccountId>"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def _ref(construct: IConstruct) -> str:
    """How cdk-nag prints a reference to a resource: <LogicalId>."""
    stack = cdk.Stack.of(construct)
    return f"<{stack.resolve(stack.get_logical_id(construct.node.default_child))}>"


def _arn(construct: IConstruct) -> str:
    stack = cdk.Stack.of(construct)
    return f"<{stack.resolve(stack.get_logical_id(construct.node.default_child))}.Arn>"


def _role_policy(role: iam.IRole) -> IConstruct:
    return role.node.find_child("DefaultPolicy")


def acknowledge_findings(stack: WorkshopStack) -> None:
    storage, packaging, functions = stack.storage, stack.packaging, stack.functions
    prefixes = storage.prefixes
    bucket = _arn(storage.bucket)
    job_prefix = stack.functions.job_name_prefix
    training_logs = f"{PARTITION_ARN}:logs:{REGIONAL}:log-group:/aws/sagemaker/TrainingJobs"
    sagemaker_jobs = f"{PARTITION_ARN}:sagemaker:{REGIONAL}:training-job"

    # Bucket
    acknowledge(
        storage.bucket,
        "AwsSolutions-S1",
        "No server access log bucket: the bucket holds only workshop bird images and model artifacts, "
        "blocks all public access and refuses non-TLS requests; CloudTrail already records who changed it, "
        "and a second log bucket per workshop account would outlive the data it describes.",
    )
    notifications_handler = next(
        child for child in stack.node.children if child.node.id.startswith("BucketNotificationsHandler")
    )
    acknowledge(
        notifications_handler,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK's bucket-notifications handler (it turns on EventBridge delivery for the bucket) only writes its "
        "own logs with this policy; the function is created by aws-s3 and has no other permissions.",
    )

    # Packaging build
    project_role = _role_policy(packaging.project.role)
    project = _ref(packaging.project)
    for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*"):
        acknowledge(
            project_role,
            f"AwsSolutions-IAM5[Action::{action}]",
            f"CDK's grant for CodeBuild to fetch its source: {action} is limited to the CDK asset bucket "
            "and the packaging/ asset's object key.",
        )
    acknowledge(
        project_role,
        f"AwsSolutions-IAM5[Resource::{PARTITION_ARN}:logs:{REGIONAL}:log-group:/aws/codebuild/{project}:*]",
        "CodeBuild's default log group of this project only; stream names are generated per build.",
    )
    acknowledge(
        project_role,
        f"AwsSolutions-IAM5[Resource::{PARTITION_ARN}:codebuild:{REGIONAL}:report-group/{project}-*]",
        "CDK's default test-report permission, limited to report groups named after this project.",
    )
    acknowledge(
        packaging.project,
        "AwsSolutions-CB4",
        "The build publishes no artifacts; its source asset, logs and the bucket use AWS-managed encryption, "
        "and a customer managed KMS key would add a monthly cost to each short-lived workshop account "
        "without protecting anything more sensitive than the workshop's bird photos.",
    )
    bucket_access = packaging.bucket_access
    acknowledge(
        bucket_access,
        f"AwsSolutions-IAM5[Resource::{bucket}/{prefixes.raw}*]",
        f"recpack reads the archive the instructor uploaded under {prefixes.raw}; its name is not known at deploy time.",
    )
    for prefix in (prefixes.train, prefixes.validation):
        acknowledge(
            bucket_access,
            f"AwsSolutions-IAM5[Resource::{bucket}/{prefix}*]",
            f"recpack upload replaces the .rec files under {prefix} (names follow the archive) and deletes "
            "stale ones, so SageMaker finds exactly one file per channel.",
        )

    # SageMaker execution role
    execution_policy = stack.execution_role.policy
    for prefix in (prefixes.train, prefixes.validation):
        acknowledge(
            execution_policy,
            f"AwsSolutions-IAM5[Resource::{bucket}/{prefix}*]",
            f"SageMaker reads every object of the S3Prefix channel {prefix}; read only, this prefix only.",
        )
    acknowledge(
        execution_policy,
        f"AwsSolutions-IAM5[Resource::{bucket}/{prefixes.output}*]",
        f"SageMaker writes {prefixes.output}<job>/output/model.tar.gz; job names are generated per run.",
    )
    acknowledge(
        execution_policy,
        f"AwsSolutions-IAM5[Resource::{training_logs}:log-stream:*]",
        "SageMaker names the training log streams <job>/algo-1-<timestamp> inside its fixed log group.",
    )
    acknowledge(
        execution_policy,
        "AwsSolutions-IAM5[Resource::*]",
        "cloudwatch:PutMetricData and ecr:GetAuthorizationToken support no resource-level permissions; "
        "PutMetricData is limited to the /aws/sagemaker/TrainingJobs namespace by a condition.",
    )

    # Lambda functions
    for function in (functions.prepare, functions.report, functions.preflight):
        acknowledge(
            function,
            "AwsSolutions-L1",
            "The training runtime is written and tested for Python 3.12 (docs/contracts.md), which Lambda "
            "supports until 2028; moving to a newer runtime is a tested change of its own.",
        )
    for role in (functions.prepare.role, functions.preflight.role):
        acknowledge(
            _role_policy(role),
            "AwsSolutions-IAM5[Resource::*]",
            "servicequotas:ListServiceQuotas, ListAWSDefaultServiceQuotas, "
            "ListRequestedServiceQuotaChangeHistoryByQuota and sagemaker:ListTrainingJobs support no "
            "resource-level permissions; all are read-only.",
        )
        acknowledge(
            _role_policy(role),
            f"AwsSolutions-IAM5[Resource::{sagemaker_jobs}/*]",
            "Running training jobs of any name use the account's instance quota, so the quota check "
            "describes them all (read-only).",
        )
    if stack.settings.training.request_quota_increase:
        acknowledge(
            _role_policy(functions.preflight.role),
            f"AwsSolutions-IAM5[Resource::{PARTITION_ARN}:servicequotas:{REGIONAL}:sagemaker/*]",
            "The quota code of each SageMaker instance type is looked up by name at run time; the request "
            "is limited to SageMaker quotas and enabled by requestQuotaIncrease.",
        )
    report_policy = _role_policy(functions.report.role)
    acknowledge(
        report_policy,
        f"AwsSolutions-IAM5[Resource::{bucket}/{prefixes.output}*]",
        f"The report is written to {prefixes.output}<job>/report.json for a job named at run time.",
    )
    acknowledge(
        report_policy,
        f"AwsSolutions-IAM5[Resource::{training_logs}:log-stream:{job_prefix}*]",
        "Reads the log streams of this stack's training jobs only (their names start with the job prefix).",
    )
    acknowledge(
        report_policy,
        f"AwsSolutions-IAM5[Resource::{sagemaker_jobs}/{job_prefix}*]",
        "Describes this stack's training jobs only (their names start with the job prefix).",
    )

    # State machine
    state_machine_policy = _role_policy(stack.training.state_machine.role)
    acknowledge(
        state_machine_policy,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray tracing of the state machine: xray:PutTraceSegments, PutTelemetryRecords and the sampling "
        "reads support no resource-level permissions.",
    )
    for function in (functions.prepare, functions.report):
        acknowledge(
            state_machine_policy,
            f"AwsSolutions-IAM5[Resource::{_arn(function)}:*]",
            "CDK's LambdaInvoke grant: versions and aliases of this one function.",
        )
    acknowledge(
        state_machine_policy,
        f"AwsSolutions-IAM5[Resource::{sagemaker_jobs}/{job_prefix}*]",
        "Creates, waits for and stops only jobs named with this stack's job prefix plus a run timestamp.",
    )
    acknowledge(
        _role_policy(stack.preflight.framework_role),
        f"AwsSolutions-IAM5[Resource::{_arn(functions.preflight)}:*]",
        "The custom-resource provider invokes only the preflight function (any version).",
    )
