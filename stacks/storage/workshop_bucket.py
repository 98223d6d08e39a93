"""Private, encrypted, TLS-only bucket; other components get access one key prefix at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.common.iam import PolicyTarget, add_statements
from stacks.common.logs import log_group
from stacks.common.nag import acknowledge, acknowledge_wildcard

# Object actions the grants combine (the components pick what their code calls).
READ = ("s3:GetObject",)
PUT = ("s3:PutObject",)
# Large objects (models, .rec files) are uploaded in parts; a failed upload is aborted.
UPLOAD = ("s3:PutObject", "s3:AbortMultipartUpload")
REPLACE = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
# CDK's auto-delete handler empties the bucket on stack deletion only while this tag reads "true".
AUTO_DELETE_TAG = "aws-cdk:auto-delete-objects"
REMOVAL_HANDLER = Path(__file__).resolve().parent / "runtime" / "bucket_removal.py"


@dataclass(frozen=True)
class RetainChosenAtDeploy:
    """Keep or delete the bucket with the stack as a template parameter decides (`condition`
    true: keep), for templates deployed without CDK (stacks/workshop_template)."""

    condition: cdk.CfnCondition
    log_retention_days: int


class WorkshopBucket(Construct):
    """The bucket, the S3 ARNs and URIs of its prefixes, and prefix-scoped grants."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retain: bool | RetainChosenAtDeploy,
        noncurrent_version_expiration_days: int,
        abort_incomplete_multipart_upload_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            # The packaging build starts from the "Object Created" events.
            event_bridge_enabled=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersionsAndAbortUploads",
                    noncurrent_version_expiration=cdk.Duration.days(
                        noncurrent_version_expiration_days
                    ),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(
                        abort_incomplete_multipart_upload_days
                    ),
                    # Delete markers left once every old version has expired.
                    expired_object_delete_marker=True,
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN
            if retain is True
            else cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=retain is not True,
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "No server access log bucket: the bucket holds only workshop bird images and model "
            "artifacts, blocks all public access and refuses non-TLS requests; CloudTrail already "
            "records who changed it, and a second log bucket per workshop account would outlive "
            "the data it describes.",
        )
        self._acknowledge_notifications_handler()
        if isinstance(retain, RetainChosenAtDeploy):
            self._retain_as_chosen_at_deploy(retain)

    def _acknowledge_notifications_handler(self) -> None:
        # event_bridge_enabled makes aws-s3 add one handler function per stack.
        stack = cdk.Stack.of(self)
        handler = next(
            child
            for child in stack.node.children
            if child.node.id.startswith("BucketNotificationsHandler")
        )
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "CDK's bucket-notifications handler (it turns on EventBridge delivery for the bucket) "
            "only writes its own logs with this policy; the function is created by aws-s3 and "
            "has no other permissions.",
        )

    def _retain_as_chosen_at_deploy(self, choice: RetainChosenAtDeploy) -> None:
        """DeletionPolicy cannot follow a parameter without the AWS::LanguageExtensions transform,
        which service-managed StackSets refuse. So CloudFormation always keeps the bucket; when it
        is not to be kept, CDK's auto-delete handler empties it (the tag says so) and a custom
        resource deleted after that removes the empty bucket. A changed parameter updates the tag
        and the property before anything is deleted, so no update ever empties the bucket."""

        def if_kept(kept: str, removed: str) -> str:
            return cdk.Token.as_string(
                cdk.Fn.condition_if(choice.condition.logical_id, kept, removed)
            )

        bucket = self.bucket.node.default_child
        # Overrides: CDK refuses a RETAIN removal policy beside auto_delete_objects.
        bucket.add_override("DeletionPolicy", "Retain")
        bucket.add_override("UpdateReplacePolicy", "Retain")
        cdk.Tags.of(self.bucket).add(AUTO_DELETE_TAG, if_kept("false", "true"), priority=200)
        logs = log_group(self, "RemovalLogs", retention_days=choice.log_retention_days)
        role = iam.Role(
            self, "RemovalRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        logs.grant_write(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DeleteEmptiedBucket",
                actions=["s3:DeleteBucket"],
                resources=[self.bucket.bucket_arn],
            )
        )
        function = lambda_.Function(
            self,
            "RemovalFunction",
            description="Deletes the emptied workshop bucket with its stack unless RetainBucket is true",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_inline(REMOVAL_HANDLER.read_text()),
            timeout=cdk.Duration.minutes(1),
            memory_size=128,
            role=role,
            log_group=logs,
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "The bucket removal handler is plain Python 3.12 like the training runtime, tested on "
            "it (tests/stacks/storage/runtime); Lambda supports 3.12 until 2028.",
        )
        removal = cdk.CustomResource(
            self,
            "Removal",
            service_token=function.function_arn,
            resource_type="Custom::WorkshopBucketRemoval",
            properties={
                "BucketName": self.bucket.bucket_name,
                "RetainBucket": if_kept("true", "false"),
            },
        )
        removal.node.add_dependency(role)
        # Deleted in reverse: CDK's emptying first (it needs the bucket policy), then the policy,
        # then this removal.
        self.bucket.policy.node.add_dependency(removal)
        self.bucket.node.find_child("AutoDeleteObjectsCustomResource").node.add_dependency(removal)

    def empty_only_after(self, resource: Construct) -> None:
        """On stack deletion, delete the objects only once `resource` is deleted (say, what stops
        the jobs still writing into the bucket). Nothing to order when the bucket is retained."""
        auto_delete = self.bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
        if auto_delete is not None:
            # CloudFormation deletes a resource before what it depends on.
            resource.node.add_dependency(auto_delete)

    def objects_arn(self, prefix: str) -> str:
        """ARN pattern of every object under `prefix` (which ends in '/')."""
        return self.bucket.arn_for_objects(f"{prefix}*")

    def object_arn(self, key: str) -> str:
        return self.bucket.arn_for_objects(key)

    def uri(self, prefix: str = "") -> str:
        return f"s3://{self.bucket.bucket_name}/{prefix}"

    def grant_locate(self, target: PolicyTarget, *, sid: str) -> None:
        add_statements(
            target,
            iam.PolicyStatement(
                sid=sid, actions=["s3:GetBucketLocation"], resources=[self.bucket.bucket_arn]
            ),
        )

    def grant_list(self, target: PolicyTarget, prefixes: Sequence[str], *, sid: str) -> None:
        """ListBucket, only for keys under `prefixes` (the listing of a prefix and below it)."""
        add_statements(
            target,
            iam.PolicyStatement(
                sid=sid,
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={
                    "StringLike": {
                        "s3:prefix": [pattern for p in prefixes for pattern in (p, f"{p}*")]
                    }
                },
            ),
        )

    def grant_objects(
        self,
        target: PolicyTarget,
        actions: Sequence[str],
        prefixes: Sequence[str],
        *,
        sid: str,
        reason: str,
    ) -> None:
        """`actions` on every object under each prefix. Object names under a prefix are chosen at
        run time, so each prefix's wildcard is acknowledged here with `reason` ("{prefix}" in it
        is replaced)."""
        policy = add_statements(
            target,
            iam.PolicyStatement(
                sid=sid,
                actions=list(actions),
                resources=[self.objects_arn(prefix) for prefix in prefixes],
            ),
        )
        for prefix in prefixes:
            acknowledge_wildcard(
                policy, self.objects_arn(prefix), reason.replace("{prefix}", prefix)
            )

    def grant_object(
        self, target: PolicyTarget, actions: Sequence[str], key: str, *, sid: str
    ) -> None:
        """`actions` on one object (no wildcard)."""
        add_statements(
            target,
            iam.PolicyStatement(sid=sid, actions=list(actions), resources=[self.object_arn(key)]),
        )
