"""Prepare -> CreateTrainingJob (.sync) -> Report, with one failure state for every step."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.log_retention import retention
from stacks.settings import WorkshopSettings
from stacks.storage import WorkshopBucket
from stacks.training.execution_role import TrainingExecutionRole
from stacks.training.functions import TrainingFunctions, training_job_arn
from stacks.training.image import AlgorithmImage

RECORDIO = "application/x-recordio"
# The rule Step Functions manages to learn when a training job ends (the .sync pattern).
SYNC_RULE_NAME = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
# Polling, SageMaker's provisioning and the upload of the model come on top of MaxRuntimeInSeconds.
EXECUTION_MARGIN = cdk.Duration.hours(1)


def create_training_job_state(
    settings: WorkshopSettings, storage: WorkshopBucket, role: iam.IRole, image_uri: str
) -> dict:
    """The ASL of the training step.

    A CustomState because SageMakerCreateTrainingJob cannot take the whole HyperParameters object
    from the Prepare output; every per-run value comes from `$.prepare`.
    """
    prefixes, training = settings.prefixes, settings.training

    def channel(name: str, prefix: str) -> dict:
        return {
            "ChannelName": name,
            "ContentType": RECORDIO,
            "CompressionType": "None",
            "RecordWrapperType": "None",
            "InputMode": "File",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": storage.uri(prefix),
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }

    return {
        "Type": "Task",
        "Comment": "Trains the built-in image-classification algorithm on the packaged channels",
        "Resource": f"arn:{cdk.Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
        "Parameters": {
            "TrainingJobName.$": "$.prepare.trainingJobName",
            "RoleArn": role.role_arn,
            "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
            "HyperParameters.$": "$.prepare.hyperParameters",
            "InputDataConfig": [
                channel("train", prefixes.train),
                channel("validation", prefixes.validation),
            ],
            "OutputDataConfig": {"S3OutputPath": storage.uri(prefixes.output)},
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType.$": "$.prepare.instanceType",
                "VolumeSizeInGB": training.volume_size_gb,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": training.max_runtime_seconds},
        },
        "ResultSelector": {
            "trainingJobName.$": "$.TrainingJobName",
            "status.$": "$.TrainingJobStatus",
            "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
        },
        "ResultPath": "$.training",
    }


class TrainingStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: WorkshopSettings,
        storage: WorkshopBucket,
        functions: TrainingFunctions,
        execution_role: TrainingExecutionRole,
        image: AlgorithmImage,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        training = settings.training

        failed = sfn.Fail(
            self,
            "TrainingRunFailed",
            comment="A step failed: the error and cause name the step's problem",
            error_path="$.failure.Error",
            cause_path="$.failure.Cause",
        )
        catch_all = {"errors": [sfn.Errors.ALL], "result_path": "$.failure"}

        prepare = tasks.LambdaInvoke(
            self,
            "Prepare",
            comment="Hyperparameters, job name and a GPU instance type with free quota",
            lambda_function=functions.prepare,
            payload_response_only=True,
            result_path="$.prepare",
        )
        prepare.add_catch(failed, **catch_all)

        create_training_job = sfn.CustomState(
            self,
            "CreateTrainingJob",
            state_json=create_training_job_state(settings, storage, execution_role.role, image.uri),
        )
        create_training_job.add_catch(failed, **catch_all)

        report = tasks.LambdaInvoke(
            self,
            "Report",
            comment="Per-epoch accuracy from the job's logs, saved as output/<job>/report.json",
            lambda_function=functions.report,
            payload=sfn.TaskInput.from_object(
                {"trainingJobName": sfn.JsonPath.string_at("$.prepare.trainingJobName")}
            ),
            payload_response_only=True,
            result_path="$.report",
        )
        report.add_catch(failed, **catch_all)

        definition = (
            prepare.next(create_training_job).next(report).next(sfn.Succeed(self, "Trained"))
        )

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=retention(settings.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="Trains the bird classifier on the packaged RecordIO channels",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=cdk.Duration.seconds(training.max_runtime_seconds).plus(EXECUTION_MARGIN),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )

        own_jobs = training_job_arn(self, f"{training.job_name_prefix}*")
        for statement in (
            iam.PolicyStatement(
                # ListTags: part of the policy AWS documents for createTrainingJob.sync (sagemaker-iam).
                sid="RunOwnTrainingJobs",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:ListTags",
                ],
                resources=[own_jobs],
            ),
            iam.PolicyStatement(
                sid="PassExecutionRoleToSageMaker",
                actions=["iam:PassRole"],
                resources=[execution_role.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="ManageSyncCompletionRule",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events", resource="rule", resource_name=SYNC_RULE_NAME
                    )
                ],
            ),
        ):
            self.state_machine.add_to_role_policy(statement)
