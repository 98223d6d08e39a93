"""The role a student assumes for their seat: their state machine, build, jobs and logs, and the
console's list calls; nothing of another seat.

Anyone in the account whom the account's IAM allows `sts:AssumeRole` on this role may assume it
(the trust names the account, as IAM's cross-role pattern does): the instructor decides who gets
which seat with the users' own policies, or an administrator switches to it to look. The bucket
access (the seat's prefixes only) is granted by the stack on `policy`, where the bucket and the
seat meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.common.arns import log_group_arn, training_job_arn, training_log_group_arn
from stacks.common.nag import acknowledge, acknowledge_wildcard

# Each statement of the role (sid -> actions); the construct scopes each one to the seat.
RUN_ACTIONS = ("states:StartExecution", "states:DescribeStateMachine", "states:ListExecutions")
EXECUTION_ACTIONS = (
    "states:DescribeExecution",
    "states:DescribeStateMachineForExecution",
    "states:GetExecutionHistory",
    "states:StopExecution",
)
BUILD_START_ACTIONS = ("codebuild:StartBuild",)
BUILD_READ_ACTIONS = (
    "codebuild:BatchGetBuilds",
    "codebuild:BatchGetProjects",
    "codebuild:ListBuildsForProject",
)
LOG_GROUP_ACTIONS = ("logs:DescribeLogStreams", "logs:FilterLogEvents")
LOG_STREAM_ACTIONS = ("logs:GetLogEvents",)
JOB_ACTIONS = ("sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob")
# What the consoles call before showing the seat's resources; none supports resource-level
# permissions, and each only lists names.
CONSOLE_LIST_ACTIONS = (
    "codebuild:ListProjects",
    "s3:ListAllMyBuckets",
    "sagemaker:ListTrainingJobs",
    "states:ListStateMachines",
)
# StartBuild overrides that would change what the build runs or what it costs; the project's own
# settings only (CodeBuild's condition keys are present only when the request overrides them).
BUILD_OVERRIDE_KEYS = (
    "codebuild:source.buildspec",
    "codebuild:environment.computeType",
    "codebuild:environment.image",
    "codebuild:environment.privilegedMode",
    "codebuild:serviceRole",
)
# The console shows a switched-to role under this name (at most 64 characters).
DISPLAY_NAME_MAX = 64


@dataclass(frozen=True)
class SeatResources:
    """The seat's own resources, besides its bucket prefixes."""

    state_machine: sfn.IStateMachine
    project: codebuild.IProject
    build_log_group_name: str
    job_name_prefix: str


class StudentRole(Construct):
    """`role` (trusting the account) with `policy`, which the stack extends with the seat's
    bucket prefixes."""

    def __init__(
        self, scope: Construct, construct_id: str, *, seat: SeatResources, display_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.display_name = display_name[:DISPLAY_NAME_MAX]
        self.role = iam.Role(
            self,
            "Role",
            description=f"{self.display_name}: one student's prefixes, build, training runs, "
            "jobs and logs",
            assumed_by=iam.AccountRootPrincipal(),
        )
        stack = cdk.Stack.of(self)
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{seat.state_machine.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        build_logs = log_group_arn(self, seat.build_log_group_name)
        training_logs = training_log_group_arn(self)
        # The exact prefix and dash: another seat's names never start with it.
        own_jobs = training_job_arn(self, f"{seat.job_name_prefix}-*")
        own_job_logs = f"{training_logs}:log-stream:{seat.job_name_prefix}-*"
        self.policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    sid="StartOwnTrainingRuns",
                    actions=list(RUN_ACTIONS),
                    resources=[seat.state_machine.state_machine_arn],
                ),
                iam.PolicyStatement(
                    sid="FollowOwnTrainingRuns",
                    actions=list(EXECUTION_ACTIONS),
                    resources=[executions],
                ),
                iam.PolicyStatement(
                    sid="StartOwnBuildAsDefined",
                    actions=list(BUILD_START_ACTIONS),
                    resources=[seat.project.project_arn],
                    conditions={"Null": dict.fromkeys(BUILD_OVERRIDE_KEYS, "true")},
                ),
                iam.PolicyStatement(
                    sid="ReadOwnBuilds",
                    actions=list(BUILD_READ_ACTIONS),
                    resources=[seat.project.project_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadOwnBuildLogs",
                    actions=list(LOG_GROUP_ACTIONS),
                    resources=[f"{build_logs}:*"],
                ),
                iam.PolicyStatement(
                    sid="ReadOwnBuildLogStreams",
                    actions=list(LOG_STREAM_ACTIONS),
                    resources=[f"{build_logs}:log-stream:*"],
                ),
                iam.PolicyStatement(
                    sid="FollowOwnTrainingJobs", actions=list(JOB_ACTIONS), resources=[own_jobs]
                ),
                iam.PolicyStatement(
                    # Authorized on the group ARN ending ':*'; it lists stream names only.
                    sid="FindTrainingLogStreams",
                    actions=["logs:DescribeLogStreams"],
                    resources=[f"{training_logs}:*"],
                ),
                iam.PolicyStatement(
                    sid="ReadOwnTrainingLogs",
                    actions=list(LOG_STREAM_ACTIONS),
                    resources=[own_job_logs],
                ),
                iam.PolicyStatement(
                    sid="ConsoleLists", actions=list(CONSOLE_LIST_ACTIONS), resources=["*"]
                ),
            ],
        )
        self.role.attach_inline_policy(self.policy)
        self._acknowledge(executions, build_logs, training_logs, own_jobs, own_job_logs)

    def _acknowledge(
        self, executions: str, build_logs: str, training_logs: str, own_jobs: str, own_job_logs: str
    ) -> None:
        policy = self.policy
        acknowledge_wildcard(
            policy,
            executions,
            "The student follows and stops the runs of their own seat's state machine only; "
            "execution names are chosen per run.",
        )
        acknowledge_wildcard(
            policy,
            f"{build_logs}:*",
            "Log-group actions on the seat's own build log group, authorized on the ARN ending "
            "':*' only.",
        )
        acknowledge_wildcard(
            policy,
            f"{build_logs}:log-stream:*",
            "Reads the seat's own build log group only; CodeBuild names a stream per build.",
        )
        acknowledge_wildcard(
            policy,
            own_jobs,
            "Describes and stops only the seat's training jobs: their names start with the "
            "seat's job prefix and a dash, which no other seat's names do.",
        )
        acknowledge_wildcard(
            policy,
            f"{training_logs}:*",
            "DescribeLogStreams of SageMaker's shared training log group lists stream names (job "
            "names) only; reading a stream's events is limited to the seat's own jobs.",
        )
        acknowledge_wildcard(
            policy,
            own_job_logs,
            "Reads the log streams of the seat's own training jobs only (named <job>/algo-1-...).",
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "The console's list calls (s3:ListAllMyBuckets, states:ListStateMachines, "
            "sagemaker:ListTrainingJobs, codebuild:ListProjects) support no resource-level "
            "permissions; they return names and statuses, never another seat's data.",
        )

    def switch_role_url(self) -> str:
        """The console link that switches to this role (the account fills in at deploy time)."""
        return (
            "https://signin.aws.amazon.com/switchrole"
            f"?roleName={self.role.role_name}&account={cdk.Aws.ACCOUNT_ID}"
            f"&displayName={quote(self.display_name)}"
        )
