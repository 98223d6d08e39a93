"""The training run: Prepare -> Choose -> CreateTrainingJob (.sync) -> Report [-> NotifyTrained],
with Choose deciding before every attempt whether to start, wait for quota or give up.

    Prepare --> Choose --> Decide --start--> CreateTrainingJob --> Report --> [NotifyTrained] --> Trained
                  ^  ^        |--wait--> WaitForQuota --+                |
                  |  +--------|-------------------------+   ResourceLimitExceeded, States.TaskFailed
                  +-----------|--------------------------------------------+  (Choose classifies)
                              +--fail--> GaveUp --+
    PrepareFailed, ChooseFailed, TrainingJobFailed, ReportFailed --+--> [NotifyFailed] --> TrainingRunFailed

One job at a time by construction (no parallel branch); Choose bounds the loop by the run's
deadline and attempt limit, and the execution timeout bounds everything.
"""

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
from stacks.training.runtime.workshop_runtime.choose import (
    RESOURCE_LIMIT_ERROR,
    SPOT_CAPACITY_WAIT_SECONDS,
)

RECORDIO = "application/x-recordio"
# The rule Step Functions manages to learn when a training job ends (the .sync pattern).
SYNC_RULE_NAME = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
# Per attempt: polling, SageMaker's provisioning and the upload of the model come on top of the
# job's own limit.
ATTEMPT_MARGIN = cdk.Duration.hours(1)
# Where the state keeps what it carries between states (docs/contracts.md).
RUN = "$.run"
JOB = "$.run.job"


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
    instance_count: int = 1
    # Managed spot: the job's stopping condition and checkpoints come from Choose per attempt.
    spot: bool = False


@dataclass(frozen=True)
class RunLimits:
    wait_for_quota_minutes: int
    max_attempts: int


def create_training_job_state(
    *, role_arn: str, image_uri: str, channels: Channels, limits: JobLimits
) -> dict:
    """The ASL of the training step.

    A CustomState because SageMakerCreateTrainingJob cannot take the whole HyperParameters object
    from the Prepare output, nor spot or checkpoint fields; every per-attempt value comes from
    Choose's `$.run.job`, the per-run ones from `$.prepare`.
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

    parameters: dict = {
        "TrainingJobName.$": f"{JOB}.trainingJobName",
        "RoleArn": role_arn,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "HyperParameters.$": "$.prepare.hyperParameters",
        "InputDataConfig": [
            channel("train", channels.train),
            channel("validation", channels.validation),
        ],
        "OutputDataConfig": {"S3OutputPath": channels.output},
        "ResourceConfig": {
            "InstanceCount": limits.instance_count,
            "InstanceType.$": f"{JOB}.instanceType",
            "VolumeSizeInGB": limits.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": limits.max_runtime_seconds},
    }
    if limits.spot:
        # Spot or on demand is decided per attempt; MaxWaitTimeInSeconds only with spot.
        del parameters["StoppingCondition"]
        parameters["StoppingCondition.$"] = f"{JOB}.stoppingCondition"
        parameters["EnableManagedSpotTraining.$"] = f"{JOB}.spot"
        parameters["CheckpointConfig"] = {"S3Uri.$": f"{JOB}.checkpointUri"}
    return {
        "Type": "Task",
        "Comment": "Trains the built-in image-classification algorithm on the packaged channels",
        "Resource": f"arn:{cdk.Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
        # A job that outlives its own limits (a lost completion event): States.Timeout, not
        # retried; Step Functions stops the job.
        "TimeoutSeconds": attempt_seconds(limits),
        "Parameters": parameters,
        "ResultSelector": {
            "trainingJobName.$": "$.TrainingJobName",
            "status.$": "$.TrainingJobStatus",
            "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
        },
        "ResultPath": "$.training",
    }


def attempt_seconds(limits: JobLimits) -> int:
    """The longest one attempt may take: the job's limit (with spot, its MaxWaitTimeInSeconds)
    plus a margin for provisioning and the model upload."""
    job = limits.max_runtime_seconds + (SPOT_CAPACITY_WAIT_SECONDS if limits.spot else 0)
    return int(job + ATTEMPT_MARGIN.to_seconds())


def execution_timeout(limits: JobLimits, run: RunLimits) -> cdk.Duration:
    """Every attempt may use its whole time, after the longest quota wait."""
    return cdk.Duration.seconds(
        run.wait_for_quota_minutes * 60 + run.max_attempts * attempt_seconds(limits)
    )


class TrainingStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prepare: lambda_.IFunction,
        choose: lambda_.IFunction,
        report: lambda_.IFunction,
        notify: lambda_.IFunction | None,
        execution_role: iam.IRole,
        image_uri: str,
        channels: Channels,
        limits: JobLimits,
        run_limits: RunLimits,
        job_name_prefix: str,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        failed = sfn.Fail(
            self,
            "TrainingRunFailed",
            comment="<step>.<error> and the step's message",
            # Named by step: Step Functions refuses an error name that starts with "States."
            # (a States.Timeout caught at CreateTrainingJob).
            error_path=sfn.JsonPath.format(
                "{}.{}",
                sfn.JsonPath.string_at("$.failure.step"),
                sfn.JsonPath.string_at("$.failure.Error"),
            ),
            cause_path="$.failure.Cause",
        )
        trained = sfn.Succeed(self, "Trained")
        notify_failed = self._notify(notify, "NotifyFailed", "failed", then=failed)
        notify_trained = self._notify(notify, "NotifyTrained", "succeeded", then=trained)

        prepare_step = self._lambda(
            prepare,
            "Prepare",
            "Hyperparameters, manifest counts, the run's name and limits",
            result_path="$.prepare",
        )
        choose_step = self._lambda(
            choose,
            "Choose",
            "Fresh quotas and usage: start on the first preferred type with room, wait in line, "
            "or give up",
            result_path=RUN,
        )
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
        # Quota taken since Choose looked, or a job that failed (capacity or not): Choose decides.
        for errors in ([RESOURCE_LIMIT_ERROR], [sfn.Errors.TASKS_FAILED]):
            create_training_job.add_catch(choose_step, errors=errors, result_path="$.attemptError")
        report_step = self._lambda(
            report,
            "Report",
            "Per-epoch accuracy and the attempts, saved as output/<job>/report.json",
            result_path="$.report",
            payload={
                "trainingJobName": sfn.JsonPath.string_at(f"{JOB}.trainingJobName"),
                "attempts": sfn.JsonPath.object_at(f"{RUN}.attempts"),
            },
        )
        for step, name in (
            (prepare_step, "Prepare"),
            (choose_step, "Choose"),
            (create_training_job, "CreateTrainingJob"),
            (report_step, "Report"),
        ):
            step.add_catch(
                self._failure(f"{name}Failed", name, notify_failed),
                errors=[sfn.Errors.ALL],
                result_path="$.failure",
            )

        gave_up = sfn.Pass(
            self,
            "GaveUp",
            comment="Choose gave up: no quota by the deadline, no capacity, too many attempts, or "
            "a job failure that is not retried",
            parameters={
                "Error": sfn.JsonPath.string_at(f"{RUN}.failure.Error"),
                "Cause": sfn.JsonPath.string_at(f"{RUN}.failure.Cause"),
                "step": sfn.JsonPath.string_at(f"{RUN}.failure.step"),
            },
            result_path="$.failure",
        ).next(notify_failed)
        wait = sfn.Wait(
            self,
            "WaitForQuota",
            comment="In line for GPU quota (the run's ticket is in the queue)",
            time=sfn.WaitTime.seconds_path(f"{RUN}.waitSeconds"),
        ).next(choose_step)
        decide = (
            sfn.Choice(self, "Decide")
            .when(sfn.Condition.string_equals(f"{RUN}.action", "start"), create_training_job)
            .when(sfn.Condition.string_equals(f"{RUN}.action", "wait"), wait)
            .otherwise(gave_up)
        )
        create_training_job.next(report_step).next(notify_trained)
        definition = prepare_step.next(choose_step).next(decide)

        self.log_group = log_group(self, "ExecutionLogs", retention_days=log_retention_days)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="Trains the bird classifier on the packaged RecordIO channels",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=execution_timeout(limits, run_limits),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self._grant_training(execution_role, job_name_prefix)
        self._acknowledge_cdk_grants(*(f for f in (prepare, choose, report, notify) if f))

    def _lambda(
        self,
        function: lambda_.IFunction,
        name: str,
        comment: str,
        *,
        result_path: str,
        payload: dict | None = None,
    ) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            name,
            comment=comment,
            lambda_function=function,
            # Without a payload the function gets the whole state.
            payload=sfn.TaskInput.from_object(payload) if payload is not None else None,
            payload_response_only=True,
            result_path=result_path,
        )

    def _failure(self, state_id: str, step: str, then: sfn.IChainable) -> sfn.IChainable:
        """Names the failing step beside the caught error, for the notification and the output."""
        return sfn.Pass(
            self,
            state_id,
            parameters={
                "Error": sfn.JsonPath.string_at("$.failure.Error"),
                "Cause": sfn.JsonPath.string_at("$.failure.Cause"),
                "step": step,
            },
            result_path="$.failure",
        ).next(then)

    def _notify(
        self,
        notify: lambda_.IFunction | None,
        name: str,
        outcome: str,
        *,
        then: sfn.IChainable,
    ) -> sfn.IChainable:
        if notify is None:
            return then
        step = self._lambda(
            notify,
            name,
            f"Emails how the run ended ({outcome})",
            result_path="$.notification",
            payload={
                "outcome": outcome,
                "state": sfn.JsonPath.object_at("$"),
                "execution": sfn.JsonPath.execution_id,
            },
        )
        # An undelivered message must not turn a trained model into a failed run, nor hide why
        # a run failed: the error stays in the output and the run ends as it would have.
        step.add_catch(then, errors=[sfn.Errors.ALL], result_path="$.notificationError")
        return step.next(then)

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
