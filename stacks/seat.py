"""One student's environment in the workshop stack: the components a seat is made of, and the grants
where they meet the bucket every seat shares.

A stack without seats builds one seat on the stack itself, with the settings' own prefixes and job
names, so its resources keep the logical ids they always had. A stack with `seats` > 1 builds each
seat under its own construct (`Seat01`, ...), with its data under `seat-01/` and its jobs named
`<jobNamePrefix>-s01-...` (stacks/config/seats.py), and a role its student assumes.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import WorkshopSettings
from stacks.config.seats import SeatLayout
from stacks.packaging_build import Layout, PackagingBuild, PipelineOptions
from stacks.storage import WorkshopBucket
from stacks.storage.workshop_bucket import PUT, READ, REPLACE, UPLOAD
from stacks.student_access import SeatResources, StudentRole
from stacks.training.build_ended import PackagingBuildEnded
from stacks.training.execution_role import TrainingExecutionRole
from stacks.training.functions import AccountFunctions, RunPolicy, RunStorage, TrainingFunctions
from stacks.training.image import AlgorithmImage
from stacks.training.runtime.workshop_runtime.quota_queue import OBJECT_ACTIONS as QUEUE_ACTIONS
from stacks.training.state_machine import Channels, JobLimits, RunLimits, TrainingStateMachine

# The tag on every resource of a seat (cost allocation; the tests find a seat's roles by it).
SEAT_TAG = "WorkshopSeat"
# What a student may change in their seat: upload archives, and replace the channels and the
# manifest as `recpack upload` does from a laptop.
STUDENT_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")


@dataclass(frozen=True)
class SharedResources:
    """What every seat of the stack uses. `account` is None for a stack without seats: its one
    seat's TrainingFunctions make Notify and Preflight, as they always did."""

    storage: WorkshopBucket
    image: AlgorithmImage
    topic_arn: str | None
    account: AccountFunctions | None
    build_trigger_role: iam.IRole | None


class WorkshopSeat:
    """The seat's components under `scope` (the stack, or the seat's own construct)."""

    def __init__(
        self,
        scope: Construct,
        *,
        layout: SeatLayout,
        settings: WorkshopSettings,
        shared: SharedResources,
    ) -> None:
        self.layout, self.settings, self.storage = layout, settings, shared.storage
        packaging, training = settings.packaging, settings.training
        retention = settings.log_retention_days
        bucket_name = self.storage.bucket.bucket_name
        self.packaging = PackagingBuild(
            scope,
            "PackagingBuild",
            bucket_name=bucket_name,
            layout=Layout(
                raw_prefix=layout.raw_prefix,
                train_prefix=layout.train_prefix,
                validation_prefix=layout.validation_prefix,
                manifest_key=layout.manifest_key,
            ),
            options=PipelineOptions(
                train_ratio=packaging.train_ratio,
                resize=packaging.resize,
                quality=packaging.quality,
                classes=packaging.classes,
            ),
            timeout=cdk.Duration.minutes(packaging.build_timeout_minutes),
            log_retention_days=retention,
            trigger_role=shared.build_trigger_role,
        )
        self.execution_role = TrainingExecutionRole(
            scope, "TrainingExecutionRole", image_repository_arn=shared.image.repository_arn
        )
        self.functions = TrainingFunctions(
            scope,
            "TrainingFunctions",
            storage=RunStorage(
                bucket_name=bucket_name,
                manifest_key=layout.manifest_key,
                output_prefix=layout.output_prefix,
                queue_prefix=settings.prefixes.queue,
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
            job_name_prefix=layout.job_name_prefix,
            request_quota_increase=training.request_quota_increase,
            topic_arn=shared.topic_arn,
            log_retention_days=retention,
            with_account_functions=shared.account is None,
        )
        account = shared.account or self.functions.account
        if account is None:
            raise ValueError("a seat needs the account's functions: shared, or its own")
        self.account = account
        self.training = TrainingStateMachine(
            scope,
            "Training",
            prepare=self.functions.prepare,
            choose=self.functions.choose,
            report=self.functions.report,
            notify=self.account.notify,
            execution_role=self.execution_role.role,
            image_uri=shared.image.uri,
            channels=Channels(
                train=self.storage.uri(layout.train_prefix),
                validation=self.storage.uri(layout.validation_prefix),
                output=self.storage.uri(layout.output_prefix),
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
            job_name_prefix=layout.job_name_prefix,
            log_retention_days=retention,
        )
        self.build_ended = None
        if shared.topic_arn is not None or training.start_after_packaging:
            self.build_ended = PackagingBuildEnded(
                scope,
                "BuildEnded",
                project_name=self.packaging.project.project_name,
                build_log_group_name=self.packaging.log_group.log_group_name,
                bucket_name=bucket_name,
                manifest_key=layout.manifest_key,
                topic_arn=shared.topic_arn,
                start_training=(
                    self.training.state_machine if training.start_after_packaging else None
                ),
                log_retention_days=retention,
            )
        self.student = None
        if layout.number is not None:
            self.student = StudentRole(
                scope,
                "Student",
                seat=SeatResources(
                    state_machine=self.training.state_machine,
                    project=self.packaging.project,
                    build_log_group_name=self.packaging.log_group.log_group_name,
                    job_name_prefix=layout.job_name_prefix,
                ),
                display_name=f"{settings.stack_name} seat {layout.label}",
            )
            cdk.Tags.of(scope).add(SEAT_TAG, layout.label)
        self._grant_packaging_access()
        self._grant_training_access()
        self._grant_student_access()

    def _grant_packaging_access(self) -> None:
        """The build reads the uploaded archive, replaces the channels and writes (never reads) the
        manifest."""
        storage, layout = self.storage, self.layout
        build = self.packaging.bucket_access
        channels = list(layout.channels)
        storage.grant_list(build, [layout.raw_prefix, *channels], sid="ListRawAndChannels")
        storage.grant_objects(
            build,
            READ,
            [layout.raw_prefix],
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
        storage.grant_object(build, PUT, layout.manifest_key, sid="WriteManifest")

    def _grant_training_access(self) -> None:
        """SageMaker reads the channels and writes the model; Prepare reads the manifest; Report
        writes report.json beside the model; Choose keeps its tickets in the account's queue."""
        storage, layout = self.storage, self.layout
        channels = list(layout.channels)
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
            [layout.output_prefix],
            sid="WriteModelArtifacts",
            reason="SageMaker writes {prefix}<job>/output/model.tar.gz; job names are generated "
            "per run.",
        )
        if self.settings.training.spot:
            # Managed spot: the algorithm saves checkpoints and reads them back after an
            # interruption, under output/<job>/checkpoints/ only (writes are covered above).
            checkpoints = f"{layout.output_prefix}*/checkpoints/"
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
            self.functions.prepare.role, READ, layout.manifest_key, sid="ReadManifest"
        )
        storage.grant_objects(
            self.functions.report.role,
            PUT,
            [layout.output_prefix],
            sid="WriteReports",
            reason="The report is written to {prefix}<job>/report.json for a job named at run "
            "time.",
        )
        # The queue of runs waiting for quota, one for the whole account so that every seat's
        # runs wait in one line: Choose lists, reads, writes and removes tickets.
        queue = self.settings.prefixes.queue
        choose = self.functions.choose.role
        storage.grant_list(choose, [queue], sid="ListQueueTickets")
        storage.grant_objects(
            choose,
            QUEUE_ACTIONS,
            [queue],
            sid="KeepQueueTickets",
            reason="Choose writes its run's ticket under {prefix} and removes tickets of runs that "
            "started, gave up or died; ticket names carry arrival times.",
        )
        if self.build_ended is not None:
            storage.grant_object(
                self.build_ended.function.role, READ, layout.manifest_key, sid="ReadManifest"
            )

    def _grant_student_access(self) -> None:
        """The student lists and reads their seat, uploads archives and may replace the channels
        (`recpack upload`); the rest of the bucket stays out of reach."""
        if self.student is None:
            return
        storage, layout = self.storage, self.layout
        policy = self.student.policy
        storage.grant_locate(policy, sid="LocateBucket")
        storage.grant_list(policy, [layout.key_prefix], sid="ListOwnSeat")
        storage.grant_objects(
            policy,
            READ,
            [layout.key_prefix],
            sid="ReadOwnSeat",
            reason="The student reads anything of their own seat under {prefix} (archives, "
            "channels, manifest, reports and models); no other seat's keys start with it.",
        )
        storage.grant_objects(
            policy,
            STUDENT_WRITES,
            [layout.raw_prefix, *layout.channels],
            sid="WriteOwnUploadsAndChannels",
            reason="The student uploads archives under {prefix} or, for the channels, replaces "
            "the .rec files as recpack upload does; the names are theirs to choose.",
        )
        storage.grant_object(policy, PUT, layout.manifest_key, sid="WriteOwnManifest")
