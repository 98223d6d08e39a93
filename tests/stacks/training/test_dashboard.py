"""TrainingDashboard on a bare stack: accuracy across jobs, builds and training runs."""

from __future__ import annotations

import json

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_events as events
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from stacks.training.dashboard import DashboardSection, TrainingDashboard

from ..conftest import bare_stack, render, resources_of_type


def test_dashboard_searches_accuracy_across_jobs_and_shows_builds_and_runs():
    stack = bare_stack()
    project = codebuild.Project(
        stack,
        "Project",
        build_spec=codebuild.BuildSpec.from_object({"version": "0.2", "phases": {}}),
    )
    rule = events.Rule(stack, "Rule", event_pattern=events.EventPattern(source=["aws.s3"]))
    state_machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P"))
    )
    TrainingDashboard(
        stack,
        "Dashboard",
        sections=[
            DashboardSection(build_project=project, build_trigger=rule, state_machine=state_machine)
        ],
    )
    template = Template.from_stack(stack).to_json()
    (dashboard,) = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(render(dashboard["Properties"]["DashboardBody"]))
    titles = [widget["properties"].get("title") for widget in body["widgets"]]
    assert titles[1:] == [
        "Validation accuracy by training job",
        "Training accuracy by training job",
        "Packaging builds",
        "Training runs (state machine executions)",
    ]
    expressions = [
        widget["properties"]["metrics"][0][0]["expression"] for widget in body["widgets"][1:3]
    ]
    assert expressions == [
        "SEARCH('{/aws/sagemaker/TrainingJobs,Host} MetricName=\"validation:accuracy\"', 'Maximum', 60)",
        "SEARCH('{/aws/sagemaker/TrainingJobs,Host} MetricName=\"train:accuracy\"', 'Maximum', 60)",
    ]
    project_name = render(stack.resolve(project.project_name))
    rule_name = render(stack.resolve(rule.rule_name))
    build_metrics = [metric[:4] for metric in body["widgets"][3]["properties"]["metrics"]]
    assert build_metrics == [
        ["AWS/CodeBuild", "SucceededBuilds", "ProjectName", project_name],
        ["AWS/CodeBuild", "FailedBuilds", "ProjectName", project_name],
        ["AWS/Events", "FailedInvocations", "RuleName", rule_name],
    ]
    run_metrics = {metric[1] for metric in body["widgets"][4]["properties"]["metrics"]}
    assert run_metrics == {
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
    }
