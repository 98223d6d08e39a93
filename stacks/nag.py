"""cdk-nag AwsSolutions acknowledgments, each on the narrowest construct with a concrete reason.

The IAM5 findings are acknowledged one by one: a new wildcard anywhere still fails the synth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from stacks.training.execution_role import training_log_group_arn
from stacks.training.functions import sagemaker_quotas_arn, training_job_arn

if TYPE_CHECKING:
    from stacks.workshop_stack import WorkshopStack


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def _nag_form(scope: IConstruct, value: object) -> str:
    """A token-bearing string as cdk-nag prints it in a finding: Ref -> <Id>, GetAtt -> <Id.Attr>.

    With a concrete account/region the same ARN is a literal, so findings are computed, not typed.
    """

    def render(node: object) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return f"<{node['Ref']}>"
        if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
            return f"<{'.'.join(node['Fn::GetAtt'])}>"
        if isinstance(node, dict) and set(node) == {"Fn::Join"}:
            separator, parts = node["Fn::Join"]
            return separator.join(render(part) for part in parts)
        raise ValueError(f"cannot name a cdk-nag finding for {node!r}")

    return render(cdk.Stack.of(scope).resolve(value))


def _role_policy(role: iam.IRole) -> IConstruct:
    return role.node.find_child("DefaultPolicy")


def acknowledge_findings(stack: WorkshopStack) -> None:
    storage, packaging, functions = stack.storage, stack.packaging, stack.functions
    prefixes = storage.prefixes
    job_prefix = stack.settings.training.job_name_prefix

    def iam5(resource: str) -> str:
        return f"AwsSolutions-IAM5[Resource::{_nag_form(stack, resource)}]"

    def objects(prefix: str) -> str:
        return iam5(storage.objects_arn(prefix))

    training_logs = training_log_group_arn(stack)
    any_job = iam5(training_job_arn(stack, "*"))
    own_jobs = iam5(training_job_arn(stack, f"{job_prefix}*"))

    # Bucket
    acknowledge(
        storage.bucket,
        "AwsSolutions-S1",
        "No server access log bucket: the bucket holds only workshop bird images and model artifacts, "
        "blocks all public access and refuses non-TLS requests; CloudTrail already records who changed it, "
        "and a second log bucket per workshop account would outlive the data it describes.",
    )
    notifications_handler = next(
        child
        for child in stack.node.children
        if child.node.id.startswith("BucketNotificationsHandler")
    )
    acknowledge(
        notifications_handler,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK's bucket-notifications handler (it turns on EventBridge delivery for the bucket) only writes its "
        "own logs with this policy; the function is created by aws-s3 and has no other permissions.",
    )

    # Packaging build
    project = packaging.project
    project_policy = _role_policy(project.role)
    codebuild_logs = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name=f"/aws/codebuild/{project.project_name}",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    acknowledge(
        project_policy,
        iam5(f"{codebuild_logs}:*"),
        "CodeBuild's default log group of this project only; stream names are generated per build.",
    )
    acknowledge(
        project_policy,
        iam5(
            stack.format_arn(
                service="codebuild",
                resource="report-group",
                resource_name=f"{project.project_name}-*",
            )
        ),
        "CDK's default test-report permission, limited to report groups named after this project.",
    )
    acknowledge(
        project,
        "AwsSolutions-CB4",
        "The build publishes no artifacts; its source asset, logs and the bucket use AWS-managed encryption, "
        "and a customer managed KMS key would add a monthly cost to each short-lived workshop account "
        "without protecting anything more sensitive than the workshop's bird photos.",
    )
    acknowledge(
        packaging.bucket_access,
        objects(prefixes.raw),
        f"recpack reads the archive the instructor uploaded under {prefixes.raw}; its name is not known at deploy time.",
    )
    for prefix in (prefixes.train, prefixes.validation):
        acknowledge(
            packaging.bucket_access,
            objects(prefix),
            f"recpack upload replaces the .rec files under {prefix} (names follow the archive) and deletes "
            "stale ones, so SageMaker finds exactly one file per channel.",
        )

    # SageMaker execution role
    execution_policy = stack.execution_role.policy
    for prefix in (prefixes.train, prefixes.validation):
        acknowledge(
            execution_policy,
            objects(prefix),
            f"SageMaker reads every object of the S3Prefix channel {prefix}; read only, this prefix only.",
        )
    acknowledge(
        execution_policy,
        objects(prefixes.output),
        f"SageMaker writes {prefixes.output}<job>/output/model.tar.gz; job names are generated per run.",
    )
    acknowledge(
        execution_policy,
        iam5(f"{training_logs}:*"),
        "CreateLogGroup and DescribeLogStreams of SageMaker's fixed training log group: CloudWatch Logs "
        "authorizes log-group actions on the group ARN ending ':*' only.",
    )
    acknowledge(
        execution_policy,
        iam5(f"{training_logs}:log-stream:*"),
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
            "servicequotas:ListServiceQuotas, ListAWSDefaultServiceQuotas and sagemaker:ListTrainingJobs "
            "support no resource-level permissions; all are read-only.",
        )
        acknowledge(
            _role_policy(role),
            any_job,
            "Running training jobs of any name use the account's instance quota, so the quota check "
            "describes them all (read-only).",
        )
    if stack.settings.training.request_quota_increase:
        acknowledge(
            _role_policy(functions.preflight.role),
            iam5(sagemaker_quotas_arn(stack)),
            "The quota code of each SageMaker instance type is looked up by name at run time; the request "
            "is limited to SageMaker quotas and enabled by requestQuotaIncrease.",
        )
    report_policy = _role_policy(functions.report.role)
    acknowledge(
        report_policy,
        objects(prefixes.output),
        f"The report is written to {prefixes.output}<job>/report.json for a job named at run time.",
    )
    acknowledge(
        report_policy,
        iam5(f"{training_logs}:*"),
        "DescribeLogStreams of SageMaker's training log group, authorized on the group ARN ending ':*' "
        "only; the call filters by this stack's job name.",
    )
    acknowledge(
        report_policy,
        iam5(f"{training_logs}:log-stream:{job_prefix}*"),
        "Reads the log streams of this stack's training jobs only (their names start with the job prefix).",
    )
    acknowledge(
        report_policy,
        own_jobs,
        "Describes this stack's training jobs only (their names start with the job prefix).",
    )

    # State machine
    state_machine_policy = _role_policy(stack.training.state_machine.role)
    acknowledge(
        state_machine_policy,
        "AwsSolutions-IAM5[Resource::*]",
        "CDK's grants for execution logging and X-Ray tracing: the CloudWatch Logs delivery actions "
        "(logs:*LogDelivery*, PutResourcePolicy, Describe*) and xray:PutTraceSegments, PutTelemetryRecords "
        "and GetSampling* support no resource-level permissions.",
    )
    for function in (functions.prepare, functions.report):
        acknowledge(
            state_machine_policy,
            iam5(f"{function.function_arn}:*"),
            "CDK's LambdaInvoke grant: versions and aliases of this one function.",
        )
    acknowledge(
        state_machine_policy,
        own_jobs,
        "Creates, waits for and stops only jobs named with this stack's job prefix plus a run timestamp.",
    )
    acknowledge(
        _role_policy(stack.preflight.framework_role),
        iam5(f"{functions.preflight.function_arn}:*"),
        "The custom-resource provider invokes only the preflight function (any version).",
    )
