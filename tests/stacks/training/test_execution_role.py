"""TrainingExecutionRole on a bare stack: SageMaker's role for a job, with logs, metrics and the
algorithm image only (its bucket access is granted by the stack: tests/stacks/test_app.py)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from stacks.training.execution_role import TrainingExecutionRole

from ..conftest import bare_stack, has_statement, open_findings

REPOSITORY = "arn:aws:ecr:us-east-1:811284229777:repository/image-classification"


@pytest.fixture(scope="module")
def built():
    stack = bare_stack()
    role = TrainingExecutionRole(stack, "TrainingExecutionRole", image_repository_arn=REPOSITORY)
    return role, Template.from_stack(stack)


def test_only_sagemaker_assumes_it_and_no_managed_policy(built):
    _, template = built
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})
                ]
            },
            "ManagedPolicyArns": Match.absent(),
        },
    )


def test_logs_go_to_sagemakers_training_log_group(built):
    _, template = built
    has_statement(
        template,
        "TrainingExecutionRolePolicy",
        {
            "Sid": "WriteTrainingLogs",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {
                "Fn::Join": [
                    "",
                    Match.array_with([":log-group:/aws/sagemaker/TrainingJobs:log-stream:*"]),
                ]
            },
        },
    )
    # Group-level actions are authorized on the group ARN ending ':*' (tests/fidelity).
    has_statement(
        template,
        "TrainingExecutionRolePolicy",
        {
            "Sid": "CreateTrainingLogGroup",
            "Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            "Resource": {
                "Fn::Join": ["", Match.array_with([":log-group:/aws/sagemaker/TrainingJobs:*"])]
            },
        },
    )


def test_metrics_only_in_the_training_namespace(built):
    _, template = built
    has_statement(
        template,
        "TrainingExecutionRolePolicy",
        {
            "Sid": "PublishTrainingMetrics",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}},
        },
    )


def test_pulls_only_the_algorithm_image(built):
    _, template = built
    has_statement(
        template,
        "TrainingExecutionRolePolicy",
        {
            "Sid": "PullAlgorithmImage",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            "Resource": REPOSITORY,
        },
    )


def test_the_role_acknowledges_its_own_findings(built):
    role, _ = built
    assert open_findings(role) == []
