"""Private, encrypted, TLS-only bucket with one key prefix per stage of the workshop."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import WorkshopSettings


class WorkshopBucket(Construct):
    """The bucket and the S3 ARNs/URIs of its prefixes, for scoping IAM statements."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: WorkshopSettings) -> None:
        super().__init__(scope, construct_id)
        self.prefixes = settings.prefixes
        self.manifest_key = settings.manifest_key
        retain = settings.retain_bucket
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
                        settings.noncurrent_version_expiration_days
                    ),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(
                        settings.abort_incomplete_multipart_upload_days
                    ),
                    # Delete markers left once every old version has expired.
                    expired_object_delete_marker=True,
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=not retain,
        )

    def objects_arn(self, prefix: str) -> str:
        """ARN pattern of every object under `prefix` (which ends in '/')."""
        return self.bucket.arn_for_objects(f"{prefix}*")

    def object_arn(self, key: str) -> str:
        return self.bucket.arn_for_objects(key)

    def uri(self, prefix: str = "") -> str:
        return f"s3://{self.bucket.bucket_name}/{prefix}"
