"""One CloudWatch dashboard for the instructor: accuracy across jobs, builds and training runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_events as events
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.common.arns import TRAINING_METRICS_NAMESPACE

PERIOD = cdk.Duration.minutes(1)
COUNTS = cdk.Duration.minutes(5)


def accuracy_search(metric_name: str) -> str:
    # A search, not fixed metrics: every training job adds its own Host dimension value.
    return f"SEARCH('{{{TRAINING_METRICS_NAMESPACE},Host}} MetricName=\"{metric_name}\"', 'Maximum', 60)"


@dataclass(frozen=True)
class DashboardSection:
    """The builds and runs of one seat; `title` names the seat (None: the stack has no seats)."""

    build_project: codebuild.IProject
    build_trigger: events.IRule
    state_machine: sfn.StateMachine
    title: str | None = None


class TrainingDashboard(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, sections: Sequence[DashboardSection]
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=cdk.Duration.hours(6))

        def accuracy_graph(title: str, metric_name: str) -> cw.GraphWidget:
            return cw.GraphWidget(
                title=title,
                width=12,
                height=8,
                left=[
                    cw.MathExpression(
                        expression=accuracy_search(metric_name), label="", period=PERIOD
                    )
                ],
                left_y_axis=cw.YAxisProps(min=0, max=1, show_units=False),
            )

        seats = len(sections) > 1
        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=(
                    "## Bird classifier training\n"
                    "Accuracy per epoch of every training job in this account and region "
                    "(one line per job), then the packaging builds and training runs"
                    + (" of each seat (its jobs are named <prefix>-sNN-...)." if seats else ".")
                ),
                width=24,
                height=2,
            )
        )
        self.dashboard.add_widgets(
            accuracy_graph("Validation accuracy by training job", "validation:accuracy"),
            accuracy_graph("Training accuracy by training job", "train:accuracy"),
        )
        for section in sections:
            if section.title is not None:
                self.dashboard.add_widgets(
                    cw.TextWidget(markdown=f"### {section.title}", width=24, height=1)
                )
            self.dashboard.add_widgets(*_builds_and_runs(section))

    def url(self) -> str:
        region = cdk.Aws.REGION
        return (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )


def _builds_and_runs(section: DashboardSection) -> list[cw.IWidget]:
    build_project, state_machine = section.build_project, section.state_machine
    return [
        cw.GraphWidget(
            title="Packaging builds",
            width=12,
            left=[
                build_project.metric_succeeded_builds(period=COUNTS, label="Succeeded"),
                build_project.metric_failed_builds(period=COUNTS, label="Failed"),
                # An upload while a build runs is refused and not retried: start it again by hand.
                cw.Metric(
                    namespace="AWS/Events",
                    metric_name="FailedInvocations",
                    dimensions_map={"RuleName": section.build_trigger.rule_name},
                    statistic=cw.Stats.SUM,
                    period=COUNTS,
                    label="Upload not started (build busy or failing)",
                ),
            ],
        ),
        cw.GraphWidget(
            title="Training runs (state machine executions)",
            width=12,
            left=[
                state_machine.metric_started(period=COUNTS, label="Started"),
                state_machine.metric_succeeded(period=COUNTS, label="Succeeded"),
                state_machine.metric_failed(period=COUNTS, label="Failed"),
                state_machine.metric_timed_out(period=COUNTS, label="Timed out"),
            ],
        ),
    ]
