"""Prepare -> CreateTrainingJob (.sync) -> Report, with one failure state for every step."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.common.arns import training_job_arn
from stacks.common.logs import log_group
from stacks.common.nag import acknowledge, acknowledge_wildcard

RECORDIO = "application/x-recordio"
# The rule Step Functions manages to learn when a training job ends (the .sync pattern).
SYNC_RULE_NAME = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
# Polling, SageMaker's provisioning and the upload of the model come on top of MaxRuntimeInSeconds.
EXECUTION_MARGIN = cdk.Duration.hours(1)


@dataclass(frozen=True)
class Channels:
    """S3 URIs of the job's input channels and its output (each ends in '/')."""

    train: str
    validation: str
    output: str


@dataclass(frozen=True)
class JobLimits:
    max_runtime_seconds: int
    volume_size_gb: int


def create_training_job_state(
    *, role_arn: str, image_uri: str, channels: Channels, limits: JobLimits
) -> dict:
    """The ASL of the training step.

    A CustomState because SageMakerCreateTrainingJob cannot take the whole HyperParameters object
    from the Prepare output; every per-run value comes from `$.prepare`.
    """

    def channel(name: str, uri: str) -> dict:
        return {
            "ChannelName": name,
            "ContentType": RECORDIO,
            "CompressionType": "None",
            "RecordWrapperType": "None",
            "InputMode": "File",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": uri,
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
            "RoleArn": role_arn,
            "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
            "HyperParameters.$": "$.prepare.hyperParameters",
            "InputDataConfig": [
                channel("train", channels.train),
                channel("validation", channels.validation),
            ],
            "OutputDataConfig": {"S3OutputPath": channels.output},
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType.$": "$.prepare.instanceType",
                "VolumeSizeInGB": limits.volume_size_gb,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": limits.max_runtime_seconds},
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
        prepare: lambda_.IFunction,
        report: lambda_.IFunction,
        execution_role: iam.IRole,
        image_uri: str,
        channels: Channels,
        limits: JobLimits,
        job_name_prefix: str,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        failed = sfn.Fail(
            self,
            "TrainingRunFailed",
            comment="A step failed: the error and cause name the step's problem",
            error_path="$.failure.Error",
            cause_path="$.failure.Cause",
        )
        catch_all = {"errors": [sfn.Errors.ALL], "result_path": "$.failure"}

        prepare_step = tasks.LambdaInvoke(
            self,
            "Prepare",
            comment="Hyperparameters, job name and a GPU instance type with free quota",
            lambda_function=prepare,
            payload_response_only=True,
            result_path="$.prepare",
        )
        prepare_step.add_catch(failed, **catch_all)

        create_training_job = sfn.CustomState(
            self,
            "CreateTrainingJob",
            state_json=create_training_job_state(
                role_arn=execution_role.role_arn,
                image_uri=image_uri,
                channels=channels,
                limits=limits,
            ),
        )
        create_training_job.add_catch(failed, **catch_all)

        report_step = tasks.LambdaInvoke(
            self,
            "Report",
            comment="Per-epoch accuracy from the job's logs, saved as output/<job>/report.json",
            lambda_function=report,
            payload=sfn.TaskInput.from_object(
                {"trainingJobName": sfn.JsonPath.string_at("$.prepare.trainingJobName")}
            ),
            payload_response_only=True,
            result_path="$.report",
        )
        report_step.add_catch(failed, **catch_all)

        definition = (
            prepare_step.next(create_training_job)
            .next(report_step)
            .next(sfn.Succeed(self, "Trained"))
        )

        self.log_group = log_group(self, "ExecutionLogs", retention_days=log_retention_days)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="Trains the bird classifier on the packaged RecordIO channels",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=cdk.Duration.seconds(limits.max_runtime_seconds).plus(EXECUTION_MARGIN),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self._grant_training(execution_role, job_name_prefix)
        self._acknowledge_cdk_grants(prepare, report)

    def _grant_training(self, execution_role: iam.IRole, job_name_prefix: str) -> None:
        own_jobs = training_job_arn(self, f"{job_name_prefix}*")
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
                resources=[execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="ManageSyncCompletionRule",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    cdk.Stack.of(self).format_arn(
                        service="events", resource="rule", resource_name=SYNC_RULE_NAME
                    )
                ],
            ),
        ):
            self.state_machine.add_to_role_policy(statement)
        acknowledge_wildcard(
            self._role_policy(),
            own_jobs,
            "Creates, waits for and stops only jobs named with this stack's job prefix plus a run "
            "timestamp.",
        )

    def _role_policy(self) -> Construct:
        return self.state_machine.role.node.find_child("DefaultPolicy")

    def _acknowledge_cdk_grants(self, *functions: lambda_.IFunction) -> None:
        policy = self._role_policy()
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "CDK's grants for execution logging and X-Ray tracing: the CloudWatch Logs delivery "
            "actions (logs:*LogDelivery*, PutResourcePolicy, Describe*) and xray:PutTraceSegments, "
            "PutTelemetryRecords and GetSampling* support no resource-level permissions.",
        )
        for function in functions:
            acknowledge_wildcard(
                policy,
                f"{function.function_arn}:*",
                "CDK's LambdaInvoke grant: versions and aliases of this one function.",
            )
