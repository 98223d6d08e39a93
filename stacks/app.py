"""The workshop stack (one per account/region), the app that holds them, and its entry point.

The stack composes the components from the settings, passing each only the values it uses, and
makes the grants where two components meet (bucket and build, bucket and training).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from stacks.config import SettingsError, WorkshopSettings, load_settings
from stacks.notifications import CostBudget, NotificationTopic
from stacks.packaging_build import Layout, PackagingBuild, PipelineOptions
from stacks.storage import WorkshopBucket
from stacks.storage.workshop_bucket import PUT, READ, REPLACE, UPLOAD
from stacks.training.build_ended import PackagingBuildEnded
from stacks.training.dashboard import TrainingDashboard
from stacks.training.execution_role import TrainingExecutionRole
from stacks.training.functions import RunPolicy, RunStorage, TrainingFunctions
from stacks.training.image import AlgorithmImage
from stacks.training.quota_preflight import QuotaPreflight
from stacks.training.runtime.workshop_runtime.quota_queue import OBJECT_ACTIONS as QUEUE_ACTIONS
from stacks.training.state_machine import Channels, JobLimits, RunLimits, TrainingStateMachine
from stacks.training.teardown import TrainingTeardown


class WorkshopStack(cdk.Stack):
    """Bucket, packaging build, training state machine, quota preflight, teardown and dashboard;
    with notificationEmails a topic, and with budgetMonthlyUsd a cost budget."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: WorkshopSettings, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Bird-species workshop: bucket, RecordIO packaging build, quota-aware SageMaker training",
            **kwargs,
        )
        self.settings = settings
        prefixes, packaging, training = settings.prefixes, settings.packaging, settings.training
        retention = settings.log_retention_days

        self.storage = WorkshopBucket(
            self,
            "Storage",
            retain=settings.retain_bucket,
            noncurrent_version_expiration_days=settings.noncurrent_version_expiration_days,
            abort_incomplete_multipart_upload_days=settings.abort_incomplete_multipart_upload_days,
        )
        bucket_name = self.storage.bucket.bucket_name
        self.packaging = PackagingBuild(
            self,
            "PackagingBuild",
            bucket_name=bucket_name,
            layout=Layout(
                raw_prefix=prefixes.raw,
                train_prefix=prefixes.train,
                validation_prefix=prefixes.validation,
                manifest_key=settings.manifest_key,
            ),
            options=PipelineOptions(
                train_ratio=packaging.train_ratio,
                resize=packaging.resize,
                quality=packaging.quality,
                classes=packaging.classes,
            ),
            timeout=cdk.Duration.minutes(packaging.build_timeout_minutes),
            log_retention_days=retention,
        )
        self.notifications = (
            NotificationTopic(self, "Notifications", emails=settings.notification_emails)
            if settings.notification_emails
            else None
        )
        topic_arn = self.notifications.topic.topic_arn if self.notifications else None
        image = AlgorithmImage(self, "AlgorithmImage")
        self.execution_role = TrainingExecutionRole(
            self, "TrainingExecutionRole", image_repository_arn=image.repository_arn
        )
        self.functions = TrainingFunctions(
            self,
            "TrainingFunctions",
            storage=RunStorage(
                bucket_name=bucket_name,
                manifest_key=settings.manifest_key,
                output_prefix=prefixes.output,
                queue_prefix=prefixes.queue,
            ),
            policy=RunPolicy(
                instance_types=training.instance_types,
                spot=training.spot,
                spot_fallback_to_on_demand=training.spot_fallback_to_on_demand,
                instance_count=training.instance_count,
                max_runtime_seconds=training.max_runtime_seconds,
                wait_for_quota_minutes=training.wait_for_quota_minutes,
                max_attempts=training.max_attempts,
            ),
            default_hyperparameters=training.hyperparameters,
            job_name_prefix=training.job_name_prefix,
            request_quota_increase=training.request_quota_increase,
            topic_arn=topic_arn,
            log_retention_days=retention,
        )
        self.training = TrainingStateMachine(
            self,
            "Training",
            prepare=self.functions.prepare,
            choose=self.functions.choose,
            report=self.functions.report,
            notify=self.functions.notify,
            execution_role=self.execution_role.role,
            image_uri=image.uri,
            channels=Channels(
                train=self.storage.uri(prefixes.train),
                validation=self.storage.uri(prefixes.validation),
                output=self.storage.uri(prefixes.output),
            ),
            limits=JobLimits(
                max_runtime_seconds=training.max_runtime_seconds,
                volume_size_gb=training.volume_size_gb,
                instance_count=training.instance_count,
                spot=training.spot,
            ),
            run_limits=RunLimits(
                wait_for_quota_minutes=training.wait_for_quota_minutes,
                max_attempts=training.max_attempts,
            ),
            job_name_prefix=training.job_name_prefix,
            log_retention_days=retention,
        )
        self.teardown = TrainingTeardown(
            self,
            "TrainingTeardown",
            state_machine=self.training.state_machine,
            job_name_prefix=training.job_name_prefix,
            log_retention_days=retention,
        )
        # Jobs still running when the stack goes write into the bucket: stop them first.
        self.storage.empty_only_after(self.teardown.resource)
        self.build_ended = None
        if self.notifications or training.start_after_packaging:
            self.build_ended = PackagingBuildEnded(
                self,
                "BuildEnded",
                project_name=self.packaging.project.project_name,
                build_log_group_name=self.packaging.log_group.log_group_name,
                bucket_name=bucket_name,
                manifest_key=settings.manifest_key,
                topic_arn=topic_arn,
                start_training=(
                    self.training.state_machine if training.start_after_packaging else None
                ),
                log_retention_days=retention,
            )
        if settings.budget_monthly_usd > 0:
            CostBudget(
                self,
                "CostBudget",
                monthly_usd=settings.budget_monthly_usd,
                emails=settings.notification_emails,
            )
        self.preflight = QuotaPreflight(
            self,
            "QuotaPreflight",
            handler=self.functions.preflight,
            instance_types=training.instance_types,
            request_quota_increase=training.request_quota_increase,
            require_gpu_quota=training.require_gpu_quota,
            run_on_every_deploy=training.preflight_on_every_deploy,
            log_retention_days=retention,
        )
        self.dashboard = TrainingDashboard(
            self,
            "Dashboard",
            build_project=self.packaging.project,
            build_trigger=self.packaging.rule,
            state_machine=self.training.state_machine,
        )
        self._grant_packaging_access()
        self._grant_training_access()
        self._grant_notifications()
        self._add_outputs()

    def _grant_packaging_access(self) -> None:
        """The build reads the uploaded archive, replaces the channels and writes (never reads) the
        manifest."""
        storage, prefixes = self.storage, self.settings.prefixes
        build = self.packaging.bucket_access
        channels = [prefixes.train, prefixes.validation]
        storage.grant_list(build, [prefixes.raw, *channels], sid="ListRawAndChannels")
        storage.grant_objects(
            build,
            READ,
            [prefixes.raw],
            sid="ReadRawArchives",
            reason="recpack reads the archive the instructor uploaded under {prefix}; its name is "
            "not known at deploy time.",
        )
        storage.grant_objects(
            build,
            REPLACE,
            channels,
            sid="ReplaceChannels",
            reason="recpack upload replaces the .rec files under {prefix} (names follow the "
            "archive) and deletes stale ones, so SageMaker finds exactly one file per channel.",
        )
        storage.grant_object(build, PUT, self.settings.manifest_key, sid="WriteManifest")

    def _grant_training_access(self) -> None:
        """SageMaker reads the channels and writes the model; Prepare reads the manifest; Report
        writes report.json beside the model."""
        storage, prefixes = self.storage, self.settings.prefixes
        channels = [prefixes.train, prefixes.validation]
        job = self.execution_role.policy
        storage.grant_locate(job, sid="LocateBucket")
        # File mode lists each S3Prefix channel to find its .rec file.
        storage.grant_list(job, channels, sid="ListChannels")
        storage.grant_objects(
            job,
            READ,
            channels,
            sid="ReadChannels",
            reason="SageMaker reads every object of the S3Prefix channel {prefix}; read only, this "
            "prefix only.",
        )
        storage.grant_objects(
            job,
            UPLOAD,
            [prefixes.output],
            sid="WriteModelArtifacts",
            reason="SageMaker writes {prefix}<job>/output/model.tar.gz; job names are generated "
            "per run.",
        )
        if self.settings.training.spot:
            # Managed spot: the algorithm saves checkpoints and reads them back after an
            # interruption, under output/<job>/checkpoints/ only (writes are covered above).
            checkpoints = f"{prefixes.output}*/checkpoints/"
            storage.grant_list(job, [checkpoints], sid="ListCheckpoints")
            storage.grant_objects(
                job,
                READ,
                [checkpoints],
                sid="ReadCheckpoints",
                reason="A spot job resumes from the checkpoints it saved under {prefix} (the job "
                "name is chosen per attempt).",
            )
        storage.grant_object(
            self.functions.prepare.role, READ, self.settings.manifest_key, sid="ReadManifest"
        )
        storage.grant_objects(
            self.functions.report.role,
            PUT,
            [prefixes.output],
            sid="WriteReports",
            reason="The report is written to {prefix}<job>/report.json for a job named at run "
            "time.",
        )
        # The queue of runs waiting for quota: Choose lists, reads, writes and removes tickets.
        choose = self.functions.choose.role
        storage.grant_list(choose, [prefixes.queue], sid="ListQueueTickets")
        storage.grant_objects(
            choose,
            QUEUE_ACTIONS,
            [prefixes.queue],
            sid="KeepQueueTickets",
            reason="Choose writes its run's ticket under {prefix} and removes tickets of runs that "
            "started, gave up or died; ticket names carry arrival times.",
        )
        if self.build_ended is not None:
            storage.grant_object(
                self.build_ended.function.role,
                READ,
                self.settings.manifest_key,
                sid="ReadManifest",
            )

    def _grant_notifications(self) -> None:
        """The functions that email results publish to the topic (and use its key)."""
        if self.notifications is None:
            return
        publishers = [self.functions.notify]
        if self.build_ended is not None:
            publishers.append(self.build_ended.function)
        for function in publishers:
            if function is not None:
                self.notifications.grant_publish(function.role, sid="PublishToTopic")

    def _add_outputs(self) -> None:
        storage, prefixes = self.storage, self.settings.prefixes
        state_machine_arn = self.training.state_machine.state_machine_arn
        project_name = self.packaging.project.project_name
        region = cdk.Aws.REGION
        outputs = {
            "BucketName": (storage.bucket.bucket_name, "The workshop bucket"),
            "RawImagesUri": (
                storage.uri(prefixes.raw),
                "Upload image archives (.zip, .tar, .tar.gz, .tgz) here",
            ),
            "TrainChannelUri": (
                storage.uri(prefixes.train),
                "Training channel written by the packaging build",
            ),
            "ValidationChannelUri": (
                storage.uri(prefixes.validation),
                "Validation channel written by the packaging build",
            ),
            "OutputUri": (
                storage.uri(prefixes.output),
                "Model artifacts and report.json of each training job",
            ),
            "TrainingStateMachineArn": (state_machine_arn, "Starts a training run"),
            "PackagingProjectName": (
                project_name,
                "CodeBuild project that packages raw images",
            ),
            "PreflightInstanceType": (
                self.preflight.instance_type,
                "Training instance type the quotas allow right now ('none': no quota)",
            ),
            "PreflightSummary": (
                self.preflight.summary,
                "Quota per preferred instance type, at deploy time",
            ),
            "DashboardUrl": (self.dashboard.url(), "Accuracy per training job, builds and runs"),
            **self._notification_outputs(),
            "UploadRawImagesCommand": (
                f"aws s3 cp birds.zip {storage.uri(prefixes.raw)}birds.zip --region {region}",
                "Uploading an archive starts the packaging build",
            ),
            "StartPackagingCommand": (
                f"aws codebuild start-build --project-name {project_name} --region {region}",
                "Repackages the newest archive under the raw prefix",
            ),
            "StartTrainingCommand": (
                f"aws stepfunctions start-execution --state-machine-arn {state_machine_arn} --region {region} "
                """--input '{"hyperparameters": {"epochs": 25, "checkpoint_frequency": 25}}'""",
                "Starts a training run; hyperparameters in the input override the defaults",
            ),
        }
        for output_id, (value, description) in outputs.items():
            cdk.CfnOutput(self, output_id, value=value, description=description)

    def _notification_outputs(self) -> dict[str, tuple[str, str]]:
        if self.notifications is None:
            return {}
        topic = self.notifications.topic
        return {
            "NotificationTopicArn": (
                topic.topic_arn,
                "Emails about builds and training runs (each address confirms its subscription "
                "first)",
            ),
            "NotificationTopicName": (topic.topic_name, "The notification topic's name"),
        }


def add_workshop_stacks(app: cdk.App, settings: WorkshopSettings) -> list[WorkshopStack]:
    """One environment-agnostic stack, or one stack per configured account and region."""
    if not settings.accounts:
        # Deploys to the CLI's current account and region; no lookups, so synth works offline.
        return [WorkshopStack(app, settings.stack_name, settings=settings)]
    return [
        WorkshopStack(
            app,
            f"{settings.stack_name}-{environment.account}-{environment.region}",
            stack_name=settings.stack_name,
            env=cdk.Environment(account=environment.account, region=environment.region),
            settings=settings,
        )
        for environment in settings.accounts
    ]


def create_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The CDK app: settings from the context, the stacks, and cdk-nag as a validation plugin.

    Raises SettingsError before any construct exists when a setting is invalid.
    """
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    settings = load_settings(app.node.get_all_context())
    add_workshop_stacks(app, settings)
    # Synthesis fails on any AwsSolutions finding not acknowledged beside the construct causing it.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> int:
    """`npx cdk synth` runs this (app.py) with the cdk.json context and any `-c` values."""
    try:
        app = create_app()
    except SettingsError as error:
        # One line naming the setting; a traceback would bury it.
        print(f"Invalid setting {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0
