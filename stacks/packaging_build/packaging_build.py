"""The packaging build: recpack from the `packaging/` asset, started by archive uploads under raw/."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from recpack.commands.pipeline import pipeline_arguments
from recpack.defaults import ARCHIVE_SUFFIXES
from stacks.common.arns import log_group_arn
from stacks.common.logs import log_group
from stacks.common.nag import acknowledge, acknowledge_wildcard

PACKAGING_DIR = Path(__file__).resolve().parents[2] / "packaging"
BUCKET_VARIABLE = "BUCKET"
# The variable the EventBridge target overrides with the uploaded key; unset on a manual start,
# which makes recpack take the newest archive under raw/.
SOURCE_KEY_VARIABLE = "SOURCE_KEY"


@dataclass(frozen=True)
class Layout:
    """Where the build reads and writes in the bucket."""

    raw_prefix: str
    train_prefix: str
    validation_prefix: str
    manifest_key: str


@dataclass(frozen=True)
class PipelineOptions:
    """The `recpack pipeline` options the settings choose (packaging.* in cdk.json)."""

    train_ratio: float
    resize: int
    quality: int
    classes: Sequence[str] = ()


def build_command(layout: Layout, options: PipelineOptions) -> str:
    """The one recpack command of the build, rendered through `recpack pipeline`'s own option
    definitions: no option name or default is spelled here, and a value recpack would refuse fails
    the synth."""
    variables = {f"${BUCKET_VARIABLE}", f"${SOURCE_KEY_VARIABLE}"}
    arguments = pipeline_arguments(
        bucket=f"${BUCKET_VARIABLE}",
        source_key=f"${SOURCE_KEY_VARIABLE}",
        raw_prefix=layout.raw_prefix,
        train_prefix=layout.train_prefix,
        validation_prefix=layout.validation_prefix,
        manifest_key=layout.manifest_key,
        train_ratio=options.train_ratio,
        resize=options.resize,
        quality=options.quality,
        classes=list(options.classes) or None,
    )
    # The two variables expand in the build's shell; every other word is literal.
    words = [f'"{word}"' if word in variables else shlex.quote(word) for word in arguments]
    return " ".join(["recpack", *words])


def archive_key_patterns(raw_prefix: str) -> list[dict[str, str]]:
    """EventBridge key filters: archives directly or deeper under the raw prefix, nothing else.

    `wildcard` expresses prefix and suffix together (a plain prefix + suffix pair in one array
    would be an OR); moto 5.2.5's EventPattern evaluates it, so tests can check the pattern.
    """
    escaped = raw_prefix.replace("\\", "\\\\").replace("*", "\\*")
    return [{"wildcard": f"{escaped}*{suffix}"} for suffix in ARCHIVE_SUFFIXES]


class PackagingBuild(Construct):
    """The CodeBuild project, its trigger, and `bucket_access`: the policy that will hold the
    build's bucket permissions (the stack grants them where bucket and build meet)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        layout: Layout,
        options: PipelineOptions,
        timeout: cdk.Duration,
        log_retention_days: int,
        trigger_role: iam.IRole | None = None,
    ) -> None:
        """`trigger_role`: the role EventBridge starts the build with, shared by the seats of a
        stack; by default the rule's target makes one of its own."""
        super().__init__(scope, construct_id)
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
        self.log_group = log_group(self, "BuildLogs", retention_days=log_retention_days)
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
                BUCKET_VARIABLE: codebuild.BuildEnvironmentVariable(value=bucket_name),
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
                        "build": {"commands": [build_command(layout, options)]},
                    },
                }
            ),
            # Two builds would race on train/ and validation/. CodeBuild refuses (HTTP 400) a start
            # while one runs, and EventBridge does not retry 4xx: the dashboard counts those triggers.
            concurrent_build_limit=1,
            timeout=timeout,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)
            ),
        )
        # The S3 source is set on the CloudFormation resource: codebuild.Source.s3 would also grant
        # s3:GetObject*/GetBucket*/List* on the asset bucket; bucket_access names the actions.
        cfn_project = self.project.node.default_child
        cfn_project.add_property_override("Source.Type", "S3")
        cfn_project.add_property_override(
            "Source.Location", f"{source.s3_bucket_name}/{source.s3_object_key}"
        )
        self.source = source
        self.bucket_access = iam.Policy(
            self,
            "BucketAccess",
            statements=[
                iam.PolicyStatement(
                    sid="FetchRecpackSource",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[source.bucket.arn_for_objects(source.s3_object_key)],
                ),
                iam.PolicyStatement(
                    sid="LocateSourceBucket",
                    actions=["s3:GetBucketAcl", "s3:GetBucketLocation"],
                    resources=[source.bucket.bucket_arn],
                ),
            ],
        )
        self.project.role.attach_inline_policy(self.bucket_access)
        self._acknowledge_codebuild_defaults()

        self.rule = events.Rule(
            self,
            "RawArchiveUploaded",
            description=f"Starts the packaging build when an archive lands under {layout.raw_prefix}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket_name]},
                    "object": {"key": archive_key_patterns(layout.raw_prefix)},
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
                event_role=trigger_role,
            )
        )

    def _acknowledge_codebuild_defaults(self) -> None:
        project = self.project
        default_policy = project.role.node.find_child("DefaultPolicy")
        acknowledge_wildcard(
            default_policy,
            f"{log_group_arn(self, f'/aws/codebuild/{project.project_name}')}:*",
            "CodeBuild's default log group of this project only; stream names are generated per build.",
        )
        acknowledge_wildcard(
            default_policy,
            cdk.Stack.of(self).format_arn(
                service="codebuild",
                resource="report-group",
                resource_name=f"{project.project_name}-*",
            ),
            "CDK's default test-report permission, limited to report groups named after this project.",
        )
        acknowledge(
            project,
            "AwsSolutions-CB4",
            "The build publishes no artifacts; its source asset, logs and the bucket use "
            "AWS-managed encryption, and a customer managed KMS key would add a monthly cost to "
            "each short-lived workshop account without protecting anything more sensitive than the "
            "workshop's bird photos.",
        )
