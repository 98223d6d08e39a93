"""The workshop stack (one per account/region), the app that holds them, and its entry point.

The stack composes the components from the settings, passing each only the values it uses: what
the account shares (bucket, topic, preflight, teardown, dashboard) here, and each seat's build,
training and grants in stacks/seat.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from stacks.config import SettingsError, WorkshopSettings, load_settings
from stacks.config.seats import seat_layouts
from stacks.config.targets import stack_id
from stacks.notifications import CostBudget, NotificationTopic
from stacks.seat import SharedResources, WorkshopSeat
from stacks.storage import WorkshopBucket
from stacks.training.dashboard import DashboardSection, TrainingDashboard
from stacks.training.functions import account_functions
from stacks.training.image import AlgorithmImage
from stacks.training.quota_preflight import QuotaPreflight
from stacks.training.teardown import TrainingTeardown, TrainingWork

# CloudFormation's quotas per stack.
MAX_RESOURCES = 500
MAX_OUTPUTS = 200


class WorkshopStack(cdk.Stack):
    """Bucket, packaging build, training state machine, quota preflight, teardown and dashboard;
    with notificationEmails a topic, and with budgetMonthlyUsd a cost budget. With `seats` > 1,
    one packaging build, state machine and student role per seat (stacks/seat.py) around the one
    bucket, queue, preflight, teardown and dashboard."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: WorkshopSettings, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Bird-species workshop: bucket, RecordIO packaging build, quota-aware SageMaker training",
            **kwargs,
        )
        self.settings = settings = self.bind_settings(settings)
        training, retention = settings.training, settings.log_retention_days
        self.storage = WorkshopBucket(
            self,
            "Storage",
            retain=settings.retain_bucket,
            noncurrent_version_expiration_days=settings.noncurrent_version_expiration_days,
            abort_incomplete_multipart_upload_days=settings.abort_incomplete_multipart_upload_days,
        )
        self.notifications = (
            NotificationTopic(self, "Notifications", emails=settings.notification_emails)
            if settings.notification_emails
            else None
        )
        self.seats = self._add_seats()
        self.teardown = TrainingTeardown(
            self,
            "TrainingTeardown",
            work=[
                TrainingWork(seat.training.state_machine, seat.layout.job_name_prefix)
                for seat in self.seats
            ],
            log_retention_days=retention,
        )
        # Jobs still running when the stack goes write into the bucket: stop them first.
        self.storage.empty_only_after(self.teardown.resource)
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
            handler=self.seats[0].account.preflight,
            instance_types=training.instance_types,
            request_quota_increase=training.request_quota_increase,
            require_gpu_quota=training.require_gpu_quota,
            run_on_every_deploy=training.preflight_on_every_deploy,
            log_retention_days=retention,
        )
        self.dashboard = TrainingDashboard(
            self,
            "Dashboard",
            sections=[
                DashboardSection(
                    build_project=seat.packaging.project,
                    build_trigger=seat.packaging.rule,
                    state_machine=seat.training.state_machine,
                    title=f"Seat {seat.layout.label}" if seat.layout.number else None,
                )
                for seat in self.seats
            ],
        )
        self._grant_notifications()
        self._add_outputs()
        self._check_stack_limits()

    def bind_settings(self, settings: WorkshopSettings) -> WorkshopSettings:
        """The settings the components get. The workshop template (stacks/workshop_template)
        replaces some by template parameters here, before any component exists."""
        return settings

    def _check_stack_limits(self) -> None:
        """A deploy would fail late on CloudFormation's per-stack limits: refuse at synth."""
        children = self.node.find_all()
        counts = {
            "resources": (sum(isinstance(c, cdk.CfnResource) for c in children), MAX_RESOURCES),
            "outputs": (sum(isinstance(c, cdk.CfnOutput) for c in children), MAX_OUTPUTS),
        }
        for what, (count, limit) in counts.items():
            if count > limit:
                raise SettingsError(
                    f"workshop.seats: {self.settings.seats} seats make {count} {what}, more than "
                    f"CloudFormation's {limit} per stack; use fewer seats or another stack"
                )

    def _add_seats(self) -> list[WorkshopSeat]:
        """One seat on the stack itself (no seats: the logical ids it always had), or one
        construct per seat around what they share."""
        settings = self.settings
        layouts = seat_layouts(settings)
        topic_arn = self.notifications.topic.topic_arn if self.notifications else None
        image = AlgorithmImage(self, "AlgorithmImage")
        if len(layouts) == 1:
            shared = SharedResources(self.storage, image, topic_arn, None, None)
            return [WorkshopSeat(self, layout=layouts[0], settings=settings, shared=shared)]
        account = account_functions(
            Construct(self, "TrainingFunctions"),
            topic_arn=topic_arn,
            request_quota_increase=settings.training.request_quota_increase,
            log_retention_days=settings.log_retention_days,
        )
        # EventBridge starts every seat's build with one role (StartBuild on each project).
        trigger = iam.Role(
            self,
            "BuildTriggerRole",
            description="EventBridge starts the seats' packaging builds when archives arrive",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
        )
        shared = SharedResources(self.storage, image, topic_arn, account, trigger)
        return [
            WorkshopSeat(
                Construct(self, f"Seat{layout.label}"),
                layout=layout,
                settings=settings,
                shared=shared,
            )
            for layout in layouts
        ]

    def _grant_notifications(self) -> None:
        """The functions that email results publish to the topic (and use its key)."""
        if self.notifications is None:
            return
        publishers = [self.seats[0].account.notify]
        publishers += [seat.build_ended.function for seat in self.seats if seat.build_ended]
        for function in publishers:
            if function is not None:
                self.notifications.grant_publish(function.role, sid="PublishToTopic")

    def _add_outputs(self) -> None:
        outputs = {
            "BucketName": (self.storage.bucket.bucket_name, "The workshop bucket"),
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
        }
        if len(self.seats) == 1:
            outputs.update(_seat_outputs(self.seats[0]))
        for seat in self.seats if len(self.seats) > 1 else []:
            seat_outputs = _seat_outputs(seat)
            for name in SEAT_OUTPUTS:
                value, description = seat_outputs[name]
                outputs[f"Seat{seat.layout.label}{name}"] = (
                    value,
                    f"Seat {seat.layout.label}: {description}",
                )
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


# A seat's outputs in a stack with seats (CloudFormation allows 200 outputs in all).
SEAT_OUTPUTS = (
    "SwitchRoleUrl",
    "StudentRoleArn",
    "ConsoleFolderUrl",
    "RawImagesUri",
    "OutputUri",
    "TrainingStateMachineArn",
    "PackagingProjectName",
    "UploadRawImagesCommand",
    "StartTrainingCommand",
)


def _seat_outputs(seat: WorkshopSeat) -> dict[str, tuple[str, str]]:
    """Where a seat's data is, and the commands that use it (and its role, with seats)."""
    storage, layout = seat.storage, seat.layout
    state_machine_arn = seat.training.state_machine.state_machine_arn
    project_name = seat.packaging.project.project_name
    region = cdk.Aws.REGION
    outputs = {
        "RawImagesUri": (
            storage.uri(layout.raw_prefix),
            "Upload image archives (.zip, .tar, .tar.gz, .tgz) here",
        ),
        "TrainChannelUri": (
            storage.uri(layout.train_prefix),
            "Training channel written by the packaging build",
        ),
        "ValidationChannelUri": (
            storage.uri(layout.validation_prefix),
            "Validation channel written by the packaging build",
        ),
        "OutputUri": (
            storage.uri(layout.output_prefix),
            "Model artifacts and report.json of each training job",
        ),
        "TrainingStateMachineArn": (state_machine_arn, "Starts a training run"),
        "PackagingProjectName": (project_name, "CodeBuild project that packages raw images"),
        "UploadRawImagesCommand": (
            f"aws s3 cp birds.zip {storage.uri(layout.raw_prefix)}birds.zip --region {region}",
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
    if seat.student is not None:
        bucket = storage.bucket.bucket_name
        outputs.update(
            {
                "SwitchRoleUrl": (
                    seat.student.switch_role_url(),
                    "Console link that switches to the student's role",
                ),
                "StudentRoleArn": (
                    seat.student.role.role_arn,
                    "The student's role, for an AWS CLI profile (role_arn)",
                ),
                "ConsoleFolderUrl": (
                    f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}?region={region}"
                    f"&prefix={layout.key_prefix}",
                    "The seat's folder in the S3 console (the bucket's root is not listable)",
                ),
            }
        )
    return outputs


def add_workshop_stacks(app: cdk.App, settings: WorkshopSettings) -> list[WorkshopStack]:
    """One environment-agnostic stack, or one stack per configured account and region."""
    if not settings.accounts:
        # Deploys to the CLI's current account and region; no lookups, so synth works offline.
        return [WorkshopStack(app, settings.stack_name, settings=settings)]
    return [
        WorkshopStack(
            app,
            stack_id(settings.stack_name, environment.account, environment.region),
            stack_name=settings.stack_name,
            env=cdk.Environment(account=environment.account, region=environment.region),
            settings=settings,
        )
        for environment in settings.accounts
    ]


def create_app(
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    add_stacks: Callable[[cdk.App, WorkshopSettings], object] = add_workshop_stacks,
) -> cdk.App:
    """The CDK app: settings from the context, the stacks (`add_stacks`; the workshop template
    adds its own), and cdk-nag as a validation plugin.

    Raises SettingsError when a setting is invalid: before any construct exists, or for seats, when
    the stack would pass CloudFormation's limits.
    """
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    settings = load_settings(app.node.get_all_context())
    add_stacks(app, settings)
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
