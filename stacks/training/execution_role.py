"""The role SageMaker assumes for a training job: read the channels, write output/, logs, metrics."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.settings import WorkshopSettings
from stacks.storage import WorkshopBucket
from stacks.training.image import AlgorithmImage

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"


def training_log_group_arn(scope: Construct) -> str:
    """SageMaker's fixed log group for training jobs (it creates it on first use)."""
    return cdk.Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name=TRAINING_LOG_GROUP,
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )


class TrainingExecutionRole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WorkshopSettings,
        storage: WorkshopBucket,
        image: AlgorithmImage,
    ) -> None:
        super().__init__(scope, construct_id)
        prefixes = settings.prefixes
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
                    sid="LocateBucket",
                    actions=["s3:GetBucketLocation"],
                    resources=[storage.bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    # File mode lists each S3Prefix channel to find its .rec file.
                    sid="ListChannels",
                    actions=["s3:ListBucket"],
                    resources=[storage.bucket.bucket_arn],
                    conditions={
                        "StringLike": {
                            "s3:prefix": [
                                prefixes.train,
                                f"{prefixes.train}*",
                                prefixes.validation,
                                f"{prefixes.validation}*",
                            ]
                        }
                    },
                ),
                iam.PolicyStatement(
                    sid="ReadChannels",
                    actions=["s3:GetObject"],
                    resources=[
                        storage.objects_arn(prefixes.train),
                        storage.objects_arn(prefixes.validation),
                    ],
                ),
                iam.PolicyStatement(
                    sid="WriteModelArtifacts",
                    actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[storage.objects_arn(prefixes.output)],
                ),
                iam.PolicyStatement(
                    # Log-group-level actions are authorized on the group ARN with ':*'; the bare
                    # ARN allows none of them (tests/fidelity found this).
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
                    conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
                ),
                iam.PolicyStatement(
                    sid="PullAlgorithmImage",
                    actions=[
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                    resources=[image.repository_arn],
                ),
                iam.PolicyStatement(
                    sid="AuthenticateToRegistry",
                    actions=["ecr:GetAuthorizationToken"],
                    resources=["*"],
                ),
            ],
        )
        self.role.attach_inline_policy(self.policy)
