"""Safe teardown: deleting the stack first stops its training work (the runtime's teardown.py).

A custom resource with nothing to do on Create and Update; on Delete its handler stops the state
machine's running executions and this stack's InProgress jobs and waits, within a bound, for them
to leave InProgress. It refers to the state machine, and the stack makes the bucket's emptying wait
for it, so CloudFormation deletes it before the state machine, the roles and the bucket.

A stack with several seats has one resource for all of them (one invocation, one bounded wait),
listing each seat's state machine and job-name prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.common.arns import training_job_arn
from stacks.common.iam import add_statements
from stacks.common.nag import acknowledge, acknowledge_wildcard
from stacks.training.lambdas import custom_resource_provider, runtime_function
from stacks.training.runtime.workshop_runtime import teardown

# How long the Delete waits for stopped jobs; well within the handler's timeout, and the
# provider framework's, so the destroy never hangs on it.
WAIT_SECONDS = 300
HANDLER_TIMEOUT = cdk.Duration.minutes(10)


@dataclass(frozen=True)
class TrainingWork:
    """One seat's training: its state machine and the prefix of its job names."""

    state_machine: sfn.StateMachine
    job_name_prefix: str


class TrainingTeardown(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        work: Sequence[TrainingWork],
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        if not work:
            raise ValueError("TrainingTeardown needs the training work it stops")
        self.handler = runtime_function(
            self,
            "Handler",
            handler="workshop_runtime.teardown.handler",
            description="On stack deletion: stops this stack's training runs and jobs, then waits a bounded time",
            timeout=HANDLER_TIMEOUT,
            environment={},
            log_retention_days=log_retention_days,
        )
        self._grant(work)
        provider = custom_resource_provider(
            self, handler=self.handler, log_retention_days=log_retention_days, what="teardown"
        )
        targets = [
            {
                teardown.JOB_NAME_PREFIX: seat.job_name_prefix,
                teardown.STATE_MACHINE_ARN: seat.state_machine.state_machine_arn,
            }
            for seat in work
        ]
        # One seat: its names at the top level, as the stack always had them.
        properties = targets[0] if len(targets) == 1 else {teardown.SEATS: targets}
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::TrainingTeardown",
            properties={**properties, "WaitSeconds": str(WAIT_SECONDS)},
        )

    def _grant(self, work: Sequence[TrainingWork]) -> None:
        statements = teardown.IAM_STATEMENTS
        # The handler stops only names matching the exact pattern; IAM adds the prefix and dash.
        own_jobs = [training_job_arn(self, f"{seat.job_name_prefix}-*") for seat in work]
        machines = [seat.state_machine.state_machine_arn for seat in work]
        executions = [
            cdk.Stack.of(self).format_arn(
                service="states",
                resource="execution",
                resource_name=f"{seat.state_machine.state_machine_name}:*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            for seat in work
        ]
        role = self.handler.role
        if not isinstance(role, iam.Role):
            raise TypeError("the teardown handler needs its own role")
        policy = add_statements(
            role,
            iam.PolicyStatement(
                sid="FindInProgressTrainingJobs",
                actions=list(statements["FindInProgressTrainingJobs"]),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="StopOwnTrainingJobs",
                actions=list(statements["StopOwnTrainingJobs"]),
                resources=own_jobs,
            ),
            iam.PolicyStatement(
                sid="FindRunningExecutions",
                actions=list(statements["FindRunningExecutions"]),
                resources=machines,
            ),
            iam.PolicyStatement(
                sid="StopRunningExecutions",
                actions=list(statements["StopRunningExecutions"]),
                resources=executions,
            ),
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "sagemaker:ListTrainingJobs supports no resource-level permissions; it only lists, "
            "and the handler stops nothing outside this stack's job-name pattern.",
        )
        for jobs in own_jobs:
            acknowledge_wildcard(
                policy,
                jobs,
                "Stops and describes only jobs named with this stack's job prefix and a dash; the "
                "handler further requires the exact <prefix>-YYYYMMDD-HHMMSS-xxxx pattern.",
            )
        for runs in executions:
            acknowledge_wildcard(
                policy,
                runs,
                "Stops only executions of this stack's training state machine (their names are "
                "chosen per run).",
            )
