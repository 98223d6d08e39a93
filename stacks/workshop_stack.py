"""The workshop stack (one per account/region) and the app that holds them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from stacks import nag
from stacks.config import WorkshopSettings, load_settings
from stacks.packaging_build import PackagingBuild
from stacks.storage import WorkshopBucket
from stacks.training.dashboard import TrainingDashboard
from stacks.training.execution_role import TrainingExecutionRole
from stacks.training.functions import TrainingFunctions
from stacks.training.image import AlgorithmImage
from stacks.training.quota_preflight import QuotaPreflight
from stacks.training.state_machine import TrainingStateMachine


class WorkshopStack(cdk.Stack):
    """Bucket, packaging build, training state machine, quota preflight and dashboard."""

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
        prefixes = settings.prefixes
        self.storage = WorkshopBucket(self, "Storage", settings=settings)
        self.packaging = PackagingBuild(
            self, "PackagingBuild", settings=settings, storage=self.storage
        )
        image = AlgorithmImage(self, "AlgorithmImage")
        self.execution_role = TrainingExecutionRole(
            self, "TrainingExecutionRole", settings=settings, storage=self.storage, image=image
        )
        self.functions = TrainingFunctions(
            self, "TrainingFunctions", settings=settings, storage=self.storage
        )
        self.training = TrainingStateMachine(
            self,
            "Training",
            settings=settings,
            storage=self.storage,
            functions=self.functions,
            execution_role=self.execution_role,
            image=image,
        )
        self.preflight = QuotaPreflight(
            self, "QuotaPreflight", settings=settings, handler=self.functions.preflight
        )
        self.dashboard = TrainingDashboard(
            self,
            "Dashboard",
            build_project=self.packaging.project,
            build_trigger=self.packaging.rule,
            state_machine=self.training.state_machine,
        )

        bucket_name = self.storage.bucket.bucket_name
        state_machine_arn = self.training.state_machine.state_machine_arn
        region = cdk.Aws.REGION
        outputs = {
            "BucketName": (bucket_name, "The workshop bucket"),
            "RawImagesUri": (
                self.storage.uri(prefixes.raw),
                "Upload image archives (.zip, .tar, .tar.gz, .tgz) here",
            ),
            "TrainChannelUri": (
                self.storage.uri(prefixes.train),
                "Training channel written by the packaging build",
            ),
            "ValidationChannelUri": (
                self.storage.uri(prefixes.validation),
                "Validation channel written by the packaging build",
            ),
            "OutputUri": (
                self.storage.uri(prefixes.output),
                "Model artifacts and report.json of each training job",
            ),
            "TrainingStateMachineArn": (state_machine_arn, "Starts a training run"),
            "PackagingProjectName": (
                self.packaging.project.project_name,
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
            "UploadRawImagesCommand": (
                f"aws s3 cp birds.zip {self.storage.uri(prefixes.raw)}birds.zip --region {region}",
                "Uploading an archive starts the packaging build",
            ),
            "StartPackagingCommand": (
                f"aws codebuild start-build --project-name {self.packaging.project.project_name} --region {region}",
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

        nag.acknowledge_findings(self)


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
    # Synthesis fails on any AwsSolutions finding not acknowledged in stacks/nag.py.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
