"""What happens when a packaging build ends (the runtime's build_ended.py): a message to the topic,
and with startAfterPackaging one training run for a successful build.

An EventBridge rule on the project's "CodeBuild Build State Change" events invokes the function;
the function names the run after the build, so a repeated event cannot start a second run.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.common.arns import log_group_arn
from stacks.common.iam import add_statements
from stacks.common.nag import acknowledge_wildcard
from stacks.training.lambdas import runtime_function
from stacks.training.runtime.workshop_runtime import build_ended

ENDED_STATUSES = ("SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT")


class PackagingBuildEnded(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_name: str,
        build_log_group_name: str,
        bucket_name: str,
        manifest_key: str,
        topic_arn: str | None,
        start_training: sfn.IStateMachine | None,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        if topic_arn is None and start_training is None:
            raise ValueError("PackagingBuildEnded needs a topic to notify or a run to start")
        environment = {"BUCKET": bucket_name, "MANIFEST_KEY": manifest_key}
        if topic_arn is not None:
            environment["TOPIC_ARN"] = topic_arn
        if start_training is not None:
            environment["STATE_MACHINE_ARN"] = start_training.state_machine_arn
        self.function = runtime_function(
            self,
            "Handler",
            handler="workshop_runtime.build_ended.handler",
            description="When a packaging build ends: notifies, and starts training after a success if configured",
            timeout=cdk.Duration.minutes(1),
            environment=environment,
            log_retention_days=log_retention_days,
        )
        role = self.function.role
        if not isinstance(role, iam.Role):
            raise TypeError("the handler needs its own role")
        statements = build_ended.IAM_STATEMENTS
        if topic_arn is not None:
            # A failed build's message quotes its log; a build only starts training on success.
            streams = f"{log_group_arn(self, build_log_group_name)}:log-stream:*"
            policy = add_statements(
                role,
                iam.PolicyStatement(
                    sid="ReadBuildLog",
                    actions=list(statements["ReadBuildLog"]),
                    resources=[streams],
                ),
            )
            acknowledge_wildcard(
                policy,
                streams,
                "Reads the packaging build's own log group only; CodeBuild names a stream per "
                "build.",
            )
        if start_training is not None:
            add_statements(
                role,
                iam.PolicyStatement(
                    sid="StartTrainingAfterBuild",
                    actions=list(statements["StartTrainingAfterBuild"]),
                    resources=[start_training.state_machine_arn],
                ),
            )
        # Without a topic only successes matter: they start the run.
        statuses = list(ENDED_STATUSES) if topic_arn is not None else ["SUCCEEDED"]
        self.rule = events.Rule(
            self,
            "BuildEnded",
            description="A packaging build ended: notify, and start training after a success if configured",
            event_pattern=events.EventPattern(
                source=["aws.codebuild"],
                detail_type=["CodeBuild Build State Change"],
                detail={"project-name": [project_name], "build-status": statuses},
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.function, retry_attempts=10, max_event_age=cdk.Duration.hours(2)
            )
        )
