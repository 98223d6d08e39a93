"""The synthesized training state machine, executed by the emulator's Step Functions interpreter.

moto runs the Pass, Choice, Wait, Fail and Succeed states, Catch and Retry itself; it cannot invoke
Lambda functions (no Docker here) or run `sagemaker:createTrainingJob.sync`. `emulated_definition`
replaces exactly those Task states by `sqs:sendMessage.waitForTaskToken` tasks that keep every
other field of the state (the task's input as the message's `input`, ResultSelector, ResultPath,
Catch, Retry, Next), and `Driver` answers each message:
- a Lambda task by running our handler's logic, the one the function's `Handler` names, with the
  function's synthesized environment, and answering with its result, or with its exception as
  Lambda reports one (error: the exception's class name; cause: Lambda's error JSON);
- the training task by a scripted outcome (`Trains`, `QuotaTaken`, `NoCapacity`, `JobFails`,
  `Refused`), creating the job in the emulated SageMaker from the very request the state rendered.
moto 5.2.5 drops SendTaskFailure's cause; `demo.moto_patches` passes it through as AWS does (the
job description in a failed `.sync` task's cause is what Choose classifies).

`make demo` and tests/stacks/training/test_state_machine_runs.py both use this module.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from demo.fake_quotas import OtherJob
from demo.template import Template
from stacks.training.runtime.workshop_runtime import choose, notify, prepare, report
from stacks.training.runtime.workshop_runtime.choose import RESOURCE_LIMIT_ERROR
from stacks.training.runtime.workshop_runtime.report import LOG_GROUP

TASK_TOKEN_RESOURCE = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
TRAINING_RESOURCE_SUFFIX = ":states:::sagemaker:createTrainingJob.sync"
# SendTaskFailure refuses error names that start with "States."; the production Catch matches
# States.TaskFailed, which covers any error name a failed task reports.
JOB_FAILED_ERROR = "SageMakerTrainingJobFailed"
CAPACITY_REASON = (
    "CapacityError: Unable to provision requested ML compute capacity. Please retry using a "
    "different ML instance type."
)


def emulated_definition(definition: Mapping[str, Any], queue_url: str) -> dict[str, Any]:
    """The definition with every Task state sending its input to `queue_url` and waiting for the
    answer (see the module docstring); every other state and field unchanged."""
    emulated = copy.deepcopy(dict(definition))
    for name, state in emulated["States"].items():
        if state["Type"] != "Task":
            continue
        body: dict[str, Any] = {"state": name, "resource": state["Resource"]}
        body["token.$"] = "$$.Task.Token"
        parameters = state.pop("Parameters", None)
        if parameters is None:
            body["input.$"] = "$"  # no Parameters: the task gets the whole state
        else:
            body["input"] = parameters
        state["Resource"] = TASK_TOKEN_RESOURCE
        state["Parameters"] = {"QueueUrl": queue_url, "MessageBody": body}
    return emulated


def fake_physical_ids(
    body: Mapping[str, Any], *, bucket: str, topic_arn: str | None, account: str, region: str
) -> dict[str, str]:
    """Names for the template's resources the state machine and the functions refer to."""
    physical = {}
    for logical, resource in body["Resources"].items():
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            physical[logical] = bucket
        elif kind == "AWS::IAM::Role":
            physical[logical] = f"arn:aws:iam::{account}:role/{logical}"
        elif kind == "AWS::Lambda::Function":
            physical[logical] = f"arn:aws:lambda:{region}:{account}:function:{logical}"
        elif kind == "AWS::SNS::Topic" and topic_arn:
            physical[logical] = topic_arn
    return physical


# --- the training task's outcomes -----------------------------------------------------------------


@dataclass
class Trains:
    """The job runs and completes, logging `epochs` epochs of rising accuracy."""

    epochs: int = 3
    billable_seconds: int | None = None
    training_seconds: int = 600


@dataclass
class QuotaTaken:
    """CreateTrainingJob is refused: another job took the quota in the meantime (`taken_by`, which
    then runs in the account as far as Choose's next look can tell)."""

    taken_by: OtherJob | None = None


@dataclass
class NoCapacity:
    """The job is created and fails: no instances of its type to be had."""


@dataclass
class JobFails:
    """The job is created and fails for a reason of its own (not retried)."""

    reason: str = (
        "AlgorithmError: The number of input images must be bigger or equal to the mini_batch_size"
    )
    secondary_status: str = "Failed"


@dataclass
class Hangs:
    """The job never reports an end (say, its completion event is lost): nobody answers the
    task, and Step Functions times it out (TimeoutSeconds)."""


@dataclass
class Refused:
    """CreateTrainingJob is refused for a reason other than quota (not retried)."""

    message: str = "ValidationException: 1 validation error detected"


Outcome = Trains | QuotaTaken | NoCapacity | JobFails | Refused | Hangs


@dataclass
class TrainingScript:
    """Outcomes in order of the CreateTrainingJob calls; `by_capacity` picks one by
    (instance type, spot) instead, and `default` answers when neither has one."""

    outcomes: list[Outcome] = field(default_factory=list)
    by_capacity: dict[tuple[str, bool], Outcome] = field(default_factory=dict)
    default: Outcome | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def next(self, request: Mapping[str, Any]) -> Outcome:
        key = (
            request["ResourceConfig"]["InstanceType"],
            bool(request.get("EnableManagedSpotTraining")),
        )
        if key in self.by_capacity:
            return self.by_capacity[key]
        if self.outcomes:
            return self.outcomes.pop(0)
        if self.default is not None:
            return self.default
        raise AssertionError(
            f"no scripted outcome for CreateTrainingJob {request['TrainingJobName']}"
        )


# --- answering the tasks -------------------------------------------------------------------------


@dataclass
class Clients:
    """The AWS clients our handlers get in the emulator."""

    s3: Any
    sagemaker: Any  # demo.fake_quotas.SageMakerWithOtherJobs around the emulated client
    servicequotas: Any  # demo.fake_quotas.FakeServiceQuotas: the emulator has none for SageMaker
    logs: Any
    sns: Any
    region: str = "us-east-1"


def _now(clock: Callable[[], datetime]) -> datetime:
    return clock()


LAMBDA_LOGIC: dict[str, Callable[[Any, Mapping[str, str], Clients, datetime], Any]] = {
    "workshop_runtime.prepare.handler": lambda event, env, c, now: prepare.prepare(
        event, env, s3=c.s3, now=now
    ),
    "workshop_runtime.choose.handler": lambda event, env, c, now: choose.choose(
        event,
        env,
        servicequotas=c.servicequotas,
        sagemaker=c.sagemaker,
        s3=c.s3,
        now=now,
        region=c.region,
    ),
    "workshop_runtime.report.handler": lambda event, env, c, now: report.report(
        event, env, logs=c.logs, sagemaker=c.sagemaker, s3=c.s3
    ),
    "workshop_runtime.notify.handler": lambda event, env, c, now: notify.notify(
        event, env, sns=c.sns, now=now
    ),
}


@dataclass
class Execution:
    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    states: list[str]  # the states entered, in order

    def path(self) -> str:
        return " > ".join(self.states)


class Driver:
    """Answers the emulated tasks of one state machine until its executions end."""

    def __init__(
        self,
        template: Template,
        clients: Clients,
        stepfunctions: Any,
        sqs: Any,
        queue_url: str,
        training: TrainingScript,
        environment: Mapping[str, Mapping[str, str]] | None = None,
        clock: Callable[[], datetime] | None = None,
        job_status: Callable[..., None] | None = None,
    ):
        self.template = template
        self.clients = clients
        self.stepfunctions = stepfunctions
        self.sqs = sqs
        self.queue_url = queue_url
        self.training = training
        # Per handler ("workshop_runtime.choose.handler"): variables replacing the synthesized ones.
        self.environment = {k: dict(v) for k, v in (environment or {}).items()}
        self.clock = clock or (lambda: datetime.now(UTC))
        # Sets a training job's status where the emulator runs in this process (moto completes
        # every job at once); None: only the task's answer carries the status.
        self.job_status = job_status
        self.functions = self._functions()
        self.answered: list[tuple[str, Any]] = []

    def _functions(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Function ARN -> (handler, environment) from the template."""
        found = {}
        for logical, resource in self.template.resources("AWS::Lambda::Function").items():
            arn = self.template.physical_ids.get(logical)
            properties = resource["Properties"]
            variables = properties.get("Environment", {}).get("Variables", {})
            environment = {k: str(v) for k, v in self.template.resolve(variables).items()}
            handler = properties["Handler"]
            environment.update(self.environment.get(handler, {}))
            found[arn] = (handler, environment)
        return found

    # -- one task --------------------------------------------------------------------------------
    def answer(self, message: Mapping[str, Any]) -> None:
        token, resource = message["token"], message["resource"]
        if resource.endswith(TRAINING_RESOURCE_SUFFIX):
            self._answer_training(token, message["input"])
            return
        handler, environment = self.functions[resource]
        try:
            result = LAMBDA_LOGIC[handler](
                message["input"], environment, self.clients, _now(self.clock)
            )
        except Exception as error:  # noqa: BLE001 - reported as Lambda reports it
            self.answered.append((message["state"], error))
            name = type(error).__name__
            cause = {
                "errorMessage": str(error),
                "errorType": name,
                "requestId": str(uuid.uuid4()),
                "stackTrace": [],
            }
            self.stepfunctions.send_task_failure(
                taskToken=token, error=name, cause=json.dumps(cause)
            )
            return
        self.answered.append((message["state"], result))
        self.stepfunctions.send_task_success(taskToken=token, output=json.dumps(result))

    def _answer_training(self, token: str, request: dict[str, Any]) -> None:
        self.training.requests.append(request)
        outcome = self.training.next(request)
        self.answered.append(("CreateTrainingJob", outcome))
        if isinstance(outcome, Hangs):
            return
        if isinstance(outcome, QuotaTaken):
            if outcome.taken_by is not None:
                self.clients.sagemaker.others.append(outcome.taken_by)
            self._fail(token, RESOURCE_LIMIT_ERROR, _quota_message(request))
            return
        if isinstance(outcome, Refused):
            self._fail(token, "SageMaker.AmazonSageMakerException", outcome.message)
            return
        sagemaker = self.clients.sagemaker.client
        sagemaker.create_training_job(**request)
        name = request["TrainingJobName"]
        if isinstance(outcome, Trains):
            self._log_epochs(name, outcome.epochs)
            seconds = {
                "TrainingTimeInSeconds": outcome.training_seconds,
                "BillableTimeInSeconds": outcome.billable_seconds or outcome.training_seconds,
            }
            described = self._settle(name, "Completed", seconds)
            self.stepfunctions.send_task_success(taskToken=token, output=json.dumps(described))
            return
        reason = CAPACITY_REASON if isinstance(outcome, NoCapacity) else outcome.reason
        secondary = outcome.secondary_status if isinstance(outcome, JobFails) else "Failed"
        described = self._settle(
            name, "Failed", {"FailureReason": reason, "SecondaryStatus": secondary}
        )
        # A failed .sync task's cause is the job's description.
        self._fail(token, JOB_FAILED_ERROR, json.dumps(described))

    def _settle(self, name: str, status: str, fields: dict[str, Any]) -> dict[str, Any]:
        """The job ends in `status` with `fields`; returns its description as JSON values."""
        if self.job_status is not None:
            self.job_status(name, status, **fields)
        described = _plain(
            self.clients.sagemaker.client.describe_training_job(TrainingJobName=name)
        )
        return {**described, "TrainingJobStatus": status, **fields}

    def _fail(self, token: str, error: str, cause: str) -> None:
        self.stepfunctions.send_task_failure(taskToken=token, error=error, cause=cause)

    def _log_epochs(self, job: str, epochs: int) -> None:
        logs = self.clients.logs
        try:
            logs.create_log_group(logGroupName=LOG_GROUP)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        stream = f"{job}/algo-1-1764400000"
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        prefix = "[11/29/2026 10:00:00 INFO 140558353856320]"
        lines = []
        for epoch in range(epochs):
            train = round(0.4 + 0.5 * (epoch + 1) / epochs, 6)
            lines += [
                f"{prefix} Epoch[{epoch}] Train-accuracy={train:f}",
                f"{prefix} Epoch[{epoch}] Time cost=12.500",
                f"{prefix} Epoch[{epoch}] Validation-accuracy={train - 0.1:f}",
            ]
        start = int(time.time() * 1000)
        logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": start + i, "message": line} for i, line in enumerate(lines)],
        )

    # -- whole executions ------------------------------------------------------------------------
    def run(
        self, state_machine_arn: str, name: str, execution_input: Any, timeout: float = 90
    ) -> Execution:
        started = self.stepfunctions.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        return self.wait(started["executionArn"], timeout)

    def wait(self, execution_arn: str, timeout: float = 90) -> Execution:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.stepfunctions.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return self._result(described)
            self.pump(wait_seconds=1)
        raise TimeoutError(f"{execution_arn} still running after {timeout} s")

    def pump(self, wait_seconds: int = 1) -> int:
        """Answer the tasks waiting now; returns how many."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        for message in messages:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.answer(json.loads(message["Body"]))
        return len(messages)

    def _result(self, described: Mapping[str, Any]) -> Execution:
        arn = described["executionArn"]
        events = []
        paginator = self.stepfunctions.get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=arn):
            events += page["events"]
        entered = [
            event["stateEnteredEventDetails"]["name"]
            for event in events
            if "stateEnteredEventDetails" in event
        ]
        output = described.get("output")
        return Execution(
            arn=arn,
            status=described["status"],
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
            states=entered,
        )


def _quota_message(request: Mapping[str, Any]) -> str:
    instance_type = request["ResourceConfig"]["InstanceType"]
    market = "spot training" if request.get("EnableManagedSpotTraining") else "training"
    count = request["ResourceConfig"]["InstanceCount"]
    return (
        f"The account-level service limit '{instance_type} for {market} job usage' is 1 "
        f"Instances, with current utilization of 1 Instances and a request delta of {count} "
        "Instances. Please use AWS Service Quotas to request an increase for this quota. "
        "(Service: AmazonSageMaker; Status Code: 400; Error Code: ResourceLimitExceeded)"
    )


def _plain(value: Any) -> Any:
    """A SageMaker response as JSON values (timestamps as text), as Step Functions passes it."""
    return json.loads(json.dumps(value, default=str))


# --- a whole emulated deployment of the training state machine ------------------------------------


@dataclass
class TrainingDeployment:
    driver: Driver
    state_machine_arn: str
    template: Template
    notifications_queue_url: str | None

    def run(self, name: str, execution_input: Any = None, timeout: float = 90) -> Execution:
        return self.driver.run(self.state_machine_arn, name, execution_input or {}, timeout)

    def notifications(self) -> list[dict[str, str]]:
        """Messages published to the topic since the last call: {"Subject", "Message"}."""
        if self.notifications_queue_url is None:
            return []
        sqs, found = self.driver.sqs, []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.notifications_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                found.append({"Subject": envelope.get("Subject"), "Message": envelope["Message"]})
                sqs.delete_message(
                    QueueUrl=self.notifications_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def deploy_training(
    template_body: Mapping[str, Any],
    client: Callable[[str], Any],
    *,
    bucket: str,
    clients: Clients,
    training: TrainingScript,
    name: str = "training",
    environment: Mapping[str, Mapping[str, str]] | None = None,
    clock: Callable[[], datetime] | None = None,
    job_status: Callable[..., None] | None = None,
    account: str = "123456789012",
    region: str = "us-east-1",
    timeouts: Mapping[str, int] | None = None,
) -> TrainingDeployment:
    """The synthesized state machine in the emulator, its tasks answered by a Driver, and (when
    the template has a topic) a queue subscribed to the topic standing in for the mailboxes.
    `timeouts` shortens states' TimeoutSeconds (state name -> seconds), to see one expire."""
    sqs, sns = client("sqs"), client("sns")
    tasks_url = sqs.create_queue(QueueName=f"{name}-tasks")["QueueUrl"]
    topic_arn, mailbox_url = None, None
    if any(r["Type"] == "AWS::SNS::Topic" for r in template_body["Resources"].values()):
        topic_arn = sns.create_topic(Name=f"{name}-notifications")["TopicArn"]
        mailbox_url = sqs.create_queue(QueueName=f"{name}-mailbox")["QueueUrl"]
        mailbox_arn = sqs.get_queue_attributes(QueueUrl=mailbox_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=mailbox_arn)
    physical = fake_physical_ids(
        template_body, bucket=bucket, topic_arn=topic_arn, account=account, region=region
    )
    template = Template(None, physical, region=region, account=account, body=template_body)  # type: ignore[arg-type]
    definition = emulated_definition(template.state_machine_definition(), tasks_url)
    for state, seconds in (timeouts or {}).items():
        definition["States"][state]["TimeoutSeconds"] = seconds
    stepfunctions = client("stepfunctions")
    state_machine_arn = stepfunctions.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{account}:role/{name}-state-machine",
    )["stateMachineArn"]
    driver = Driver(
        template,
        clients,
        stepfunctions,
        sqs,
        tasks_url,
        training,
        environment=environment,
        clock=clock,
        job_status=job_status,
    )
    return TrainingDeployment(driver, state_machine_arn, template, mailbox_url)
