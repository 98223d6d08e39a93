"""The calls AWS services make with our roles, which no code of ours makes: a reviewed table.

Each entry builds API calls (service, operation, parameters) from what the template configures, so a
changed prefix, log group or image changes the call that is checked; each cites why AWS makes it.
They are mapped and evaluated exactly like recorded calls (actions.py, simulate.py).
To cover a new service behaviour, add a function here and call it from `tabled_calls`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from .actions import LOG_DELIVERY_OPERATIONS, TRACING_OPERATIONS, Call
from .cfn import Template
from .components import CDK_HANDLERS

SOURCES = {
    "codebuild": "https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html "
    "(S3 source: s3:GetObject, s3:GetObjectVersion, s3:GetBucketAcl, s3:GetBucketLocation; logs)",
    "lambda-logs": "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html "
    "(Lambda writes the function's logs with its execution role; it creates the default group)",
    "sagemaker": "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"
    "#sagemaker-roles-createtrainingjob-perms (File mode lists and reads each S3Prefix channel, "
    "writes <S3OutputPath><job>/output/model.tar.gz, logs under /aws/sagemaker/TrainingJobs "
    "<job>/algo-N-<time>, metrics in /aws/sagemaker/TrainingJobs, pulls the algorithm image)",
    "sfn-sagemaker": "https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html "
    "(createTrainingJob.sync: CreateTrainingJob, DescribeTrainingJob, StopTrainingJob when the "
    "execution stops, sagemaker:ListTags, the managed rule "
    "StepFunctionsGetEventsForSageMakerTrainingJobsRule)",
    "sfn-lambda": "https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html",
    "sfn-logs": "https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy "
    "(log delivery is set up with the state machine's role)",
    "sfn-xray": "https://docs.aws.amazon.com/step-functions/latest/dg/concepts-xray-tracing.html",
    "events": "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html "
    "(a target's role is assumed by EventBridge to call the target: CodeBuild StartBuild)",
    "provider": "aws-cdk-lib custom-resources provider framework, outbound.js in the synthesized "
    "asset: lambda.invoke of the user function, waitUntilFunctionActiveV2 (GetFunction) on retry",
    "auto-delete": "aws-cdk-lib aws-s3 auto-delete-objects handler, index.js in the synthesized "
    "asset: getBucketTagging, getBucketPolicy/putBucketPolicy, listObjectVersions, deleteObjects",
    "checkpoints": "https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints.html "
    "(with CheckpointConfig SageMaker copies /opt/ml/checkpoints to the S3 URI during training and, "
    "when a spot job resumes, lists and downloads what is there, with the execution role)",
    "sns-kms": "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html "
    "(a publisher to a topic encrypted with a customer managed key needs kms:GenerateDataKey "
    "and kms:Decrypt on the key; SNS calls KMS with the publisher's permissions)",
}

SYNC_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def _call(
    component: str, service: str, operation: str, params: dict, region: str, source: str
) -> Call:
    return Call(component, service, operation, params, region, f"tabled: {SOURCES[source]}")


def codebuild_calls(template: Template) -> list[Call]:
    calls = []
    for project in template.of_type("AWS::CodeBuild::Project").values():
        properties = template.resolve(project["Properties"])
        source = properties["Source"]
        if source["Type"] == "S3":
            bucket, key = source["Location"].split("/", 1)
            for operation in ("GetBucketLocation", "GetBucketAcl"):
                calls.append(
                    _call(
                        "packaging build",
                        "s3",
                        operation,
                        {"Bucket": bucket},
                        template.region,
                        "codebuild",
                    )
                )
            calls.append(
                _call(
                    "packaging build",
                    "s3",
                    "GetObject",
                    {"Bucket": bucket, "Key": key},
                    template.region,
                    "codebuild",
                )
            )
        group = properties.get("LogsConfig", {}).get("CloudWatchLogs", {})
        if group.get("Status", "ENABLED") == "ENABLED":
            name = (
                group.get("GroupName") or f"/aws/codebuild/{template.ref(_id(template, project))}"
            )
            stream = {"logGroupName": name, "logStreamName": "fidelity-build-0001"}
            for operation in ("CreateLogStream", "PutLogEvents"):
                calls.append(
                    _call(
                        "packaging build", "logs", operation, stream, template.region, "codebuild"
                    )
                )
    return calls


def _id(template: Template, resource: dict) -> str:
    return next(k for k, v in template.resources.items() if v is resource)


def lambda_log_calls(template: Template, names: dict[str, str]) -> list[Call]:
    calls = []
    for logical_id, function in template.of_type("AWS::Lambda::Function").items():
        properties = template.resolve(function["Properties"])
        component = names[template.referenced_logical_id(function["Properties"]["Role"])]
        group = properties.get("LoggingConfig", {}).get("LogGroup")
        operations = ["CreateLogStream", "PutLogEvents"]
        if group is None:
            group = f"/aws/lambda/{template.ref(logical_id)}"
            operations.insert(0, "CreateLogGroup")
        for operation in operations:
            params = {"logGroupName": group}
            if operation != "CreateLogGroup":
                params["logStreamName"] = "2026/11/29/[$LATEST]0123456789abcdef"
            calls.append(
                _call(component, "logs", operation, params, template.region, "lambda-logs")
            )
    return calls


def sagemaker_training_calls(
    request: dict[str, Any], objects: dict[str, list[str]], region: str
) -> list[Call]:
    """What SageMaker does with the execution role for one rendered CreateTrainingJob request;
    `objects` lists the keys under each channel's prefix (what File mode downloads)."""
    who = "training execution (SageMaker)"
    job = request["TrainingJobName"]
    calls = []
    for channel in request["InputDataConfig"]:
        source = channel["DataSource"]["S3DataSource"]
        bucket, prefix = _s3(source["S3Uri"])
        calls.append(
            _call(
                who,
                "s3",
                "ListObjectsV2",
                {"Bucket": bucket, "Prefix": prefix},
                region,
                "sagemaker",
            )
        )
        for key in objects.get(source["S3Uri"], []):
            calls.append(
                _call(who, "s3", "GetObject", {"Bucket": bucket, "Key": key}, region, "sagemaker")
            )
    checkpoints = request.get("CheckpointConfig", {}).get("S3Uri")
    if checkpoints:
        bucket, prefix = _s3(checkpoints)
        saved = f"{prefix}checkpoint-0001.params"
        for operation, params in (
            ("ListObjectsV2", {"Bucket": bucket, "Prefix": prefix}),
            ("GetObject", {"Bucket": bucket, "Key": saved}),
            ("PutObject", {"Bucket": bucket, "Key": saved}),
        ):
            calls.append(_call(who, "s3", operation, params, region, "checkpoints"))
    bucket, prefix = _s3(request["OutputDataConfig"]["S3OutputPath"])
    output_key = f"{prefix.rstrip('/')}/{job}/output/model.tar.gz".lstrip("/")
    calls.append(
        _call(who, "s3", "PutObject", {"Bucket": bucket, "Key": output_key}, region, "sagemaker")
    )
    stream = {"logGroupName": TRAINING_LOG_GROUP, "logStreamName": f"{job}/algo-1-1764400000"}
    calls.append(
        _call(
            who, "logs", "CreateLogGroup", {"logGroupName": TRAINING_LOG_GROUP}, region, "sagemaker"
        )
    )
    calls.append(
        _call(
            who,
            "logs",
            "DescribeLogStreams",
            {"logGroupName": TRAINING_LOG_GROUP, "logStreamNamePrefix": job},
            region,
            "sagemaker",
        )
    )
    for operation in ("CreateLogStream", "PutLogEvents"):
        calls.append(_call(who, "logs", operation, stream, region, "sagemaker"))
    calls.append(
        _call(
            who,
            "cloudwatch",
            "PutMetricData",
            {"Namespace": TRAINING_LOG_GROUP},
            region,
            "sagemaker",
        )
    )
    image = request["AlgorithmSpecification"]["TrainingImage"]
    match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.[^/]+/([^:@]+).*", image)
    assert match, f"training image {image} is not an ECR image URI"
    registry, image_region, repository = match.groups()
    calls.append(_call(who, "ecr", "GetAuthorizationToken", {}, image_region, "sagemaker"))
    for operation in ("BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "BatchGetImage"):
        params = {"registryId": registry, "repositoryName": repository}
        calls.append(_call(who, "ecr", operation, params, image_region, "sagemaker"))
    return calls


def _s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return parsed.netloc, parsed.path.lstrip("/")
    # https://bucket.s3.region.amazonaws.com/prefix or https://s3.region.amazonaws.com/bucket/prefix
    host, path = parsed.netloc, parsed.path.lstrip("/")
    if host.startswith("s3.") or host.startswith("s3-"):
        bucket, _, key = path.partition("/")
        return bucket, key
    return host.split(".s3", 1)[0], path


def sync_training_calls(request: dict[str, Any], region: str, account: str) -> list[Call]:
    """Step Functions' own calls for createTrainingJob.sync besides CreateTrainingJob."""
    who = "state machine"
    name = {"TrainingJobName": request["TrainingJobName"]}
    job = f"arn:aws:sagemaker:{region}:{account}:training-job/{request['TrainingJobName'].lower()}"
    return [
        _call(who, "sagemaker", "ListTags", {"ResourceArn": job}, region, "sfn-sagemaker"),
        _call(who, "sagemaker", "DescribeTrainingJob", name, region, "sfn-sagemaker"),
        _call(who, "sagemaker", "StopTrainingJob", name, region, "sfn-sagemaker"),
        _call(who, "events", "PutRule", {"Name": SYNC_RULE}, region, "sfn-sagemaker"),
        _call(who, "events", "PutTargets", {"Rule": SYNC_RULE}, region, "sfn-sagemaker"),
        _call(who, "events", "DescribeRule", {"Name": SYNC_RULE}, region, "sfn-sagemaker"),
    ]


def state_machine_service_calls(template: Template) -> list[Call]:
    calls = []
    for machine in template.of_type("AWS::StepFunctions::StateMachine").values():
        properties = template.resolve(machine["Properties"])
        if properties.get("LoggingConfiguration", {}).get("Destinations"):
            for operation in LOG_DELIVERY_OPERATIONS:
                calls.append(
                    _call("state machine", "logs", operation, {}, template.region, "sfn-logs")
                )
        if properties.get("TracingConfiguration", {}).get("Enabled"):
            for operation in TRACING_OPERATIONS:
                calls.append(
                    _call("state machine", "xray", operation, {}, template.region, "sfn-xray")
                )
    return calls


# EventBridge target kind -> the call EventBridge makes with the target's role.
TARGET_CALLS = {
    "AWS::CodeBuild::Project": lambda t, target_id: (
        "codebuild",
        "StartBuild",
        {"projectName": t.ref(target_id)},
    ),
    "AWS::StepFunctions::StateMachine": lambda t, target_id: (
        "stepfunctions",
        "StartExecution",
        {"stateMachineArn": t.ref(target_id)},
    ),
}


def event_target_calls(template: Template, names: dict[str, str]) -> list[Call]:
    calls = []
    for rule in template.of_type("AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            if "RoleArn" not in target:
                continue
            target_id = template.referenced_logical_id(target["Arn"])
            kind = template.resources[target_id]["Type"]
            service, operation, params = TARGET_CALLS[kind](template, target_id)
            component = names[template.referenced_logical_id(target["RoleArn"])]
            calls.append(_call(component, service, operation, params, template.region, "events"))
    return calls


def provider_framework_calls(template: Template, names: dict[str, str]) -> list[Call]:
    calls = []
    for function in template.of_type("AWS::Lambda::Function").values():
        properties = function["Properties"]
        if properties.get("Handler") != "framework.onEvent":
            continue
        user = template.resolve(
            properties["Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"]
        )
        component = names[template.referenced_logical_id(properties["Role"])]
        for operation in ("Invoke", "GetFunction"):
            calls.append(
                _call(
                    component,
                    "lambda",
                    operation,
                    {"FunctionName": user},
                    template.region,
                    "provider",
                )
            )
    return calls


# What the auto-delete handler asks S3 for, as written in its bundled code (checked by a test).
AUTO_DELETE_OPERATIONS = {
    "getBucketTagging": "GetBucketTagging",
    "getBucketPolicy": "GetBucketPolicy",
    "putBucketPolicy": "PutBucketPolicy",
    "listObjectVersions": "ListObjectVersions",
    "deleteObjects": "DeleteObjects",
}


def auto_delete_calls(template: Template) -> list[Call]:
    component = CDK_HANDLERS["Custom::S3AutoDeleteObjects"]
    calls = []
    for resource in template.of_type("Custom::S3AutoDeleteObjects").values():
        bucket = template.resolve(resource["Properties"]["BucketName"])
        for operation in AUTO_DELETE_OPERATIONS.values():
            params: dict[str, Any] = {"Bucket": bucket}
            if operation == "DeleteObjects":
                params["Delete"] = {
                    "Objects": [
                        {"Key": "train/any-key.rec", "VersionId": "v1"},
                        {"Key": "raw/deleted.zip", "VersionId": "delete-marker"},
                    ]
                }
            calls.append(_call(component, "s3", operation, params, template.region, "auto-delete"))
    return calls


def encrypted_topic_calls(template: Template, calls: list[Call]) -> list[Call]:
    """For every recorded publish to a topic with a KMS key, the key use SNS makes with the
    publisher's permissions."""
    keys = {}
    for logical_id, topic in template.of_type("AWS::SNS::Topic").items():
        key = topic["Properties"].get("KmsMasterKeyId")
        if key is not None:
            keys[template.ref(logical_id)] = template.resolve(key)
    made = []
    for call in calls:
        if (call.service, call.operation) != ("sns", "Publish"):
            continue
        key = keys.get(call.params["TopicArn"])
        if key is None:
            continue
        for operation in ("GenerateDataKey", "Decrypt"):
            made.append(
                _call(call.component, "kms", operation, {"KeyId": key}, call.region, "sns-kms")
            )
    return made


def tabled_calls(template: Template, names: dict[str, str]) -> list[Call]:
    """Every tabled call the template implies, except the per-training-job ones (flows add those
    for each CreateTrainingJob request the state machine renders)."""
    return [
        *codebuild_calls(template),
        *lambda_log_calls(template, names),
        *state_machine_service_calls(template),
        *event_target_calls(template, names),
        *provider_framework_calls(template, names),
        *auto_delete_calls(template),
    ]
