"""The harness fails, naming the call, when a permission a call needs is removed or misplaced.

Each case edits the synthesized template (found by component and statement content), re-evaluates
the calls the flows recorded and tabled, and expects the named call to be refused with a message
that names the component, the call, the action and the resource.
"""

from __future__ import annotations

import json

import pytest

from . import mutate
from .simulate import explain


def _refusals(default, template):
    policies, denied = mutate.recheck(template, default.requests)
    return denied, [explain(policies, d) for d in denied]


def _expect(default, denied, lines, component, operation, action, resource_part):
    resource_part = resource_part.replace("{bucket}", default.workshop.bucket)
    hits = [
        (d, line)
        for d, line in zip(denied, lines, strict=True)
        if d.request.call.component == component
        and d.request.call.operation == operation
        and d.request.action == action
        and resource_part in d.request.resource
    ]
    assert hits, (
        f"expected {component} {operation} {action} on *{resource_part}* refused; got:\n"
        + "\n".join(lines)
    )
    line = hits[0][1]
    for part in (component, operation, action, resource_part):
        assert part in line, line


REMOVALS = [
    # component, action removed (in statements whose resource contains the part), expected refusal
    ("packaging build", "s3:PutObject", "/train/", "CompleteMultipartUpload", "train/"),
    ("packaging build", "s3:PutObject", "/manifest.json", "PutObject", "manifest.json"),
    (
        "packaging build",
        "s3:DeleteObject",
        "/train/",
        "DeleteObjects",
        "train/stale-from-last-week.rec",
    ),
    ("packaging build", "s3:AbortMultipartUpload", "/train/", "AbortMultipartUpload", "train/"),
    ("packaging build", "s3:ListBucket", "", "ListObjectsV2", "{bucket}"),
    ("packaging build", "s3:GetBucketAcl", "", "GetBucketAcl", "cdk-hnb659fds-assets"),
    (
        "choose function",
        "servicequotas:ListAWSDefaultServiceQuotas",
        "",
        "ListAWSDefaultServiceQuotas",
        "*",
    ),
    (
        "choose function",
        "sagemaker:DescribeTrainingJob",
        "",
        "DescribeTrainingJob",
        "another-class-running-job",
    ),
    ("choose function", "s3:PutObject", "/queue/", "PutObject", "/queue/"),
    (
        "teardown function",
        "sagemaker:StopTrainingJob",
        "",
        "StopTrainingJob",
        "training-job/birds-",
    ),
    ("teardown function", "states:StopExecution", "", "StopExecution", ":execution:"),
    ("report function", "logs:GetLogEvents", "", "GetLogEvents", "log-stream:birds-"),
    ("report function", "s3:PutObject", "", "PutObject", "/report.json"),
    ("state machine", "lambda:InvokeFunction", "", "Invoke", "function:"),
    (
        "state machine",
        "events:PutRule",
        "",
        "PutRule",
        "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    ),
    (
        "state machine",
        "sagemaker:CreateTrainingJob",
        "",
        "CreateTrainingJob",
        "training-job/birds-",
    ),
    ("state machine", "iam:PassRole", "", "CreateTrainingJob", ":role/"),
    (
        "training execution (SageMaker)",
        "ecr:BatchGetImage",
        "",
        "BatchGetImage",
        "repository/image-classification",
    ),
    ("training execution (SageMaker)", "cloudwatch:PutMetricData", "", "PutMetricData", "*"),
    (
        "training execution (SageMaker)",
        "logs:CreateLogGroup",
        "",
        "CreateLogGroup",
        "/aws/sagemaker/TrainingJobs",
    ),
    (
        "EventBridge rule role (CodeBuild target)",
        "codebuild:StartBuild",
        "",
        "StartBuild",
        ":project/",
    ),
    ("preflight provider framework", "lambda:InvokeFunction", "", "Invoke", "function:"),
    (
        "CDK bucket-notifications handler",
        "s3:PutBucketNotification",
        "",
        "PutBucketNotificationConfiguration",
        "{bucket}",
    ),
]


@pytest.mark.parametrize(
    ("component", "action", "resource_part", "operation", "expected_resource"),
    REMOVALS,
    ids=[f"{c}-{a}" for c, a, *_ in REMOVALS],
)
def test_removing_an_action_refuses_the_call_that_needs_it(
    default, component, action, resource_part, operation, expected_resource
):
    template = mutate.remove_action(default.template, component, action, resource_part)
    denied, lines = _refusals(default, template)
    _expect(default, denied, lines, component, operation, action, expected_resource)


RESCOPES = [
    # component, action, resource text replaced, replacement, expected refusal (operation, resource)
    ("packaging build", "s3:GetObject", "/raw/*", "/rawx/*", "GetObject", "/raw/birds.zip"),
    (
        "packaging build",
        "s3:PutObject",
        "/validation/*",
        "/validations/*",
        "PutObject",
        "/validation/",
    ),
    (
        "training execution (SageMaker)",
        "s3:GetObject",
        "/train/*",
        "/training/*",
        "GetObject",
        "/train/",
    ),
    (
        "training execution (SageMaker)",
        "s3:PutObject",
        "/output/*",
        "/outputs/*",
        "PutObject",
        "/output/",
    ),
    (
        "report function",
        "sagemaker:DescribeTrainingJob",
        "training-job/birds*",
        "training-job/bird-*",
        "DescribeTrainingJob",
        "training-job/birds-",
    ),
    ("state machine", "iam:PassRole", ":role/", ":role/other-", "CreateTrainingJob", ":role/"),
]


@pytest.mark.parametrize(
    ("component", "action", "old", "new", "operation", "expected_resource"),
    RESCOPES,
    ids=[f"{c}-{a}-{o}" for c, a, o, *_ in RESCOPES],
)
def test_a_grant_scoped_to_the_wrong_place_refuses_the_call(
    default, component, action, old, new, operation, expected_resource
):
    template = mutate.rescope(default.template, component, action, old, new)
    denied, lines = _refusals(default, template)
    _expect(default, denied, lines, component, operation, action, expected_resource)


def test_a_list_grant_without_the_channel_prefix_refuses_sagemakers_listing(default):
    def drop_train(raw, resolved):
        prefixes = resolved["Condition"]["StringLike"]["s3:prefix"]
        raw["Condition"] = {
            "StringLike": {"s3:prefix": [p for p in prefixes if not p.startswith("train/")]}
        }

    template = mutate.edit(
        default.template,
        "training execution (SageMaker)",
        mutate.grants("s3:ListBucket"),
        drop_train,
    )
    denied, lines = _refusals(default, template)
    _expect(
        default,
        denied,
        lines,
        "training execution (SageMaker)",
        "ListObjectsV2",
        "s3:ListBucket",
        "{bucket}",
    )
    assert any("'s3:prefix': 'train/'" in line for line in lines), lines


def test_passrole_for_another_service_refuses_create_training_job(default):
    def other_service(raw, resolved):
        raw["Condition"] = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}

    template = mutate.edit(
        default.template, "state machine", mutate.grants("iam:PassRole"), other_service
    )
    denied, lines = _refusals(default, template)
    _expect(default, denied, lines, "state machine", "CreateTrainingJob", "iam:PassRole", ":role/")
    assert any("iam:PassedToService" in line for line in lines)


def test_an_explicit_deny_in_the_bucket_policy_refuses_the_call(default):
    template = default.template.copy()
    (policy,) = template.of_type("AWS::S3::BucketPolicy").values()
    bucket = template.resolve(policy["Properties"]["Bucket"])
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{bucket}/train/*",
        }
    )
    denied, lines = _refusals(default, template)
    _expect(
        default, denied, lines, "packaging build", "DeleteObjects", "s3:DeleteObject", "/train/"
    )
    assert all(d.decision == "ExplicitlyDenied" for d in denied), lines
    assert any("explicit Deny in bucket policy" in line for line in lines), lines


def test_the_tls_only_bucket_policy_refuses_plain_http(default):
    """The context the harness sends matters: the same call without TLS is refused by the bucket."""
    plain = []
    for request in default.requests:
        if request.resource.startswith(f"arn:aws:s3:::{default.workshop.bucket}"):
            copy = type(request)(
                request.call,
                request.action,
                request.resource,
                request.resource_account,
                dict(request.context),
            )
            copy.context["aws:SecureTransport"] = "false"
            plain.append(copy)
    from .simulate import evaluate

    decisions = evaluate(default.policies, plain[:20])
    assert decisions and all(d.decision == "ExplicitlyDenied" for d in decisions), json.dumps(
        [d.decision for d in decisions]
    )
