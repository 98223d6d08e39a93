"""The role SageMaker assumes for a training job: logs, metrics and the algorithm image.

Its bucket access (read the channels, write output/) is granted by the stack, where the bucket
and training meet.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.common.arns import TRAINING_METRICS_NAMESPACE, training_log_group_arn
from stacks.common.nag import acknowledge, acknowledge_wildcard


class TrainingExecutionRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, image_repository_arn: str) -> None:
        super().__init__(scope, construct_id)
        log_group_arn = training_log_group_arn(self)
        self.role = iam.Role(
            self,
            "Role",
            description="SageMaker training jobs of the workshop: read train/validation, write output",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        )
        self.policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    # Log-group-level actions are authorized on the group ARN ending ':*'; the
                    # bare ARN allows none of them (tests/fidelity found this).
                    sid="CreateTrainingLogGroup",
                    actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
                    resources=[f"{log_group_arn}:*"],
                ),
                iam.PolicyStatement(
                    sid="WriteTrainingLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group_arn}:log-stream:*"],
                ),
                iam.PolicyStatement(
                    sid="PublishTrainingMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {"cloudwatch:namespace": TRAINING_METRICS_NAMESPACE}
                    },
                ),
                iam.PolicyStatement(
                    sid="PullAlgorithmImage",
                    actions=[
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                    resources=[image_repository_arn],
                ),
                iam.PolicyStatement(
                    sid="AuthenticateToRegistry",
                    actions=["ecr:GetAuthorizationToken"],
                    resources=["*"],
                ),
            ],
        )
        self.role.attach_inline_policy(self.policy)
        acknowledge_wildcard(
            self.policy,
            f"{log_group_arn}:*",
            "CreateLogGroup and DescribeLogStreams of SageMaker's fixed training log group: CloudWatch "
            "Logs authorizes log-group actions on the group ARN ending ':*' only.",
        )
        acknowledge_wildcard(
            self.policy,
            f"{log_group_arn}:log-stream:*",
            "SageMaker names the training log streams <job>/algo-1-<timestamp> inside its fixed "
            "log group.",
        )
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData and ecr:GetAuthorizationToken support no resource-level "
            "permissions; PutMetricData is limited to the /aws/sagemaker/TrainingJobs namespace by "
            "a condition.",
        )
