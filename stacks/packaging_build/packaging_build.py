"""The packaging build: recpack from the `packaging/` asset, started by archive uploads under raw/."""

from __future__ import annotations

import shlex
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.log_retention import retention
from stacks.settings import WorkshopSettings
from stacks.storage import WorkshopBucket

PACKAGING_DIR = Path(__file__).resolve().parents[2] / "packaging"
# What `recpack pipeline` accepts as the raw archive (docs/contracts.md).
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
# The variable the EventBridge target overrides with the uploaded key; unset on a manual start,
# which makes recpack take the newest archive under raw/.
SOURCE_KEY_VARIABLE = "SOURCE_KEY"


def build_command(settings: WorkshopSettings) -> str:
    """The one recpack command of the build, with every option from the settings."""
    prefixes, packaging = settings.prefixes, settings.packaging
    arguments = [
        "recpack",
        "pipeline",
        "--bucket",
        '"$BUCKET"',
        "--source-key",
        f'"${SOURCE_KEY_VARIABLE}"',
        "--raw-prefix",
        shlex.quote(prefixes.raw),
        "--train-prefix",
        shlex.quote(prefixes.train),
        "--validation-prefix",
        shlex.quote(prefixes.validation),
        "--manifest-key",
        shlex.quote(settings.manifest_key),
        "--train-ratio",
        f"{packaging.train_ratio:g}",
        "--resize",
        str(packaging.resize),
        "--quality",
        str(packaging.quality),
    ]
    if packaging.classes:
        arguments += ["--classes", shlex.quote(",".join(packaging.classes))]
    return " ".join(arguments)


def archive_key_patterns(raw_prefix: str) -> list[dict[str, str]]:
    """EventBridge key filters: archives directly or deeper under the raw prefix, nothing else.

    `wildcard` expresses prefix and suffix together (a plain prefix + suffix pair in one array
    would be an OR); moto 5.2.5's EventPattern evaluates it, so tests can check the pattern.
    """
    escaped = raw_prefix.replace("\\", "\\\\").replace("*", "\\*")
    return [{"wildcard": f"{escaped}*{suffix}"} for suffix in ARCHIVE_SUFFIXES]


class PackagingBuild(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WorkshopSettings,
        storage: WorkshopBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        prefixes = settings.prefixes
        bucket = storage.bucket

        source = s3_assets.Asset(
            self,
            "RecpackSource",
            path=str(PACKAGING_DIR),
            exclude=[
                "**/__pycache__",
                "**/*.egg-info",
                "build",
                "dist",
                ".pytest_cache",
                "**/*.pyc",
            ],
        )
        self.log_group = logs.LogGroup(
            self,
            "BuildLogs",
            retention=retention(settings.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.project = codebuild.Project(
            self,
            "Project",
            description="Packages the newest (or the uploaded) raw image archive into RecordIO for training",
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                # 2 vCPUs and 3 GB suit the workshop's few hundred photos; a larger set only takes longer.
                compute_type=codebuild.ComputeType.SMALL,
            ),
            environment_variables={
                "BUCKET": codebuild.BuildEnvironmentVariable(value=bucket.bucket_name),
            },
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "env": {"shell": "bash"},
                    "phases": {
                        "install": {
                            "runtime-versions": {"python": "3.12"},
                            # constraints.txt pins recpack's dependencies to the tested versions.
                            "commands": ["pip install --no-cache-dir -c constraints.txt ."],
                        },
                        "build": {"commands": [build_command(settings)]},
                    },
                }
            ),
            # Two builds would race on train/ and validation/. CodeBuild refuses (HTTP 400) a start
            # while one runs, and EventBridge does not retry 4xx: the dashboard counts those triggers.
            concurrent_build_limit=1,
            timeout=cdk.Duration.minutes(settings.packaging.build_timeout_minutes),
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)
            ),
        )
        # The S3 source is set on the CloudFormation resource: codebuild.Source.s3 would also grant
        # s3:GetObject*/GetBucket*/List* on the asset bucket; _grant_bucket_access names the actions.
        cfn_project = self.project.node.default_child
        cfn_project.add_property_override("Source.Type", "S3")
        cfn_project.add_property_override(
            "Source.Location", f"{source.s3_bucket_name}/{source.s3_object_key}"
        )
        self.source = source
        self._grant_bucket_access(storage, settings)

        self.rule = events.Rule(
            self,
            "RawArchiveUploaded",
            description=f"Starts the packaging build when an archive lands under {prefixes.raw}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": archive_key_patterns(prefixes.raw)},
                },
            ),
        )
        self.rule.add_target(
            targets.CodeBuildProject(
                self.project,
                event=events.RuleTargetInput.from_object(
                    {
                        "environmentVariablesOverride": [
                            {
                                "name": SOURCE_KEY_VARIABLE,
                                "type": "PLAINTEXT",
                                "value": events.EventField.from_path("$.detail.object.key"),
                            }
                        ]
                    }
                ),
                # Throttling and service errors (429/5xx) are retried for up to a day.
                retry_attempts=185,
                max_event_age=cdk.Duration.hours(24),
            )
        )

    def _grant_bucket_access(self, storage: WorkshopBucket, settings: WorkshopSettings) -> None:
        prefixes = settings.prefixes
        channels = [storage.objects_arn(prefixes.train), storage.objects_arn(prefixes.validation)]
        self.bucket_access = iam.Policy(
            self,
            "BucketAccess",
            statements=[
                iam.PolicyStatement(
                    sid="ListRawAndChannels",
                    actions=["s3:ListBucket"],
                    resources=[storage.bucket.bucket_arn],
                    conditions={
                        "StringLike": {
                            "s3:prefix": [
                                prefixes.raw,
                                f"{prefixes.raw}*",
                                prefixes.train,
                                f"{prefixes.train}*",
                                prefixes.validation,
                                f"{prefixes.validation}*",
                            ]
                        }
                    },
                ),
                iam.PolicyStatement(
                    sid="ReadRawArchives",
                    actions=["s3:GetObject"],
                    resources=[storage.objects_arn(prefixes.raw)],
                ),
                iam.PolicyStatement(
                    sid="ReplaceChannels",
                    actions=[
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:DeleteObject",
                        "s3:AbortMultipartUpload",
                    ],
                    resources=channels,
                ),
                iam.PolicyStatement(
                    sid="FetchRecpackSource",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[self.source.bucket.arn_for_objects(self.source.s3_object_key)],
                ),
                iam.PolicyStatement(
                    sid="LocateSourceBucket",
                    actions=["s3:GetBucketAcl", "s3:GetBucketLocation"],
                    resources=[self.source.bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    # recpack writes the manifest and never reads it (tests/fidelity records this).
                    sid="WriteManifest",
                    actions=["s3:PutObject"],
                    resources=[storage.object_arn(settings.manifest_key)],
                ),
            ],
        )
        self.project.role.attach_inline_policy(self.bucket_access)
