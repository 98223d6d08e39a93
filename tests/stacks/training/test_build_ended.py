"""PackagingBuildEnded on a bare stack: the rule on the project's build state changes, and a
handler that may read the build's log, and start the state machine only when asked to."""

from __future__ import annotations

import pytest
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from stacks.training.build_ended import PackagingBuildEnded

from ..conftest import as_list, bare_stack, open_findings, render, resources_of_type

TOPIC = "arn:aws:sns:us-east-1:123456789012:workshop"
LOGS = "/workshop/build"


def build(topic_arn=TOPIC, start=True):
    stack = bare_stack()
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P"))
    )
    construct = PackagingBuildEnded(
        stack,
        "BuildEnded",
        project_name="PackagingProject",
        build_log_group_name=LOGS,
        bucket_name="workshop-bucket",
        manifest_key="manifest.json",
        topic_arn=topic_arn,
        start_training=machine if start else None,
        log_retention_days=7,
    )
    return construct, Template.from_stack(stack).to_json()


def statements(template) -> dict[str, dict]:
    return {
        s["Sid"]: s
        for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items()
        if logical_id.startswith("BuildEndedHandlerRole")
        for s in render(policy["Properties"]["PolicyDocument"]["Statement"])
        if "Sid" in s
    }


def rule_pattern(template):
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    return rule["Properties"]["EventPattern"]


def test_every_end_of_the_projects_builds_reaches_the_handler():
    construct, template = build()
    assert rule_pattern(template) == {
        "source": ["aws.codebuild"],
        "detail-type": ["CodeBuild Build State Change"],
        "detail": {
            "project-name": ["PackagingProject"],
            "build-status": ["SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"],
        },
    }
    (function,) = [
        f["Properties"]
        for f in resources_of_type(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "workshop_runtime.build_ended.handler"
    ]
    assert render(function["Environment"]["Variables"]) == {
        "BUCKET": "workshop-bucket",
        "MANIFEST_KEY": "manifest.json",
        "TOPIC_ARN": TOPIC,
        "STATE_MACHINE_ARN": "<Machine6FC8AE80>",
    }
    allowed = statements(template)
    # Streams of the build's log group: arn:...:log-group:NAME:log-stream:*, what GetLogEvents
    # is authorized on.
    assert allowed["ReadBuildLog"]["Resource"] == (
        "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/workshop/build"
        ":log-stream:*"
    )
    assert allowed["StartTrainingAfterBuild"] == {
        "Sid": "StartTrainingAfterBuild",
        "Effect": "Allow",
        "Action": "states:StartExecution",
        "Resource": "<Machine6FC8AE80>",
    }
    assert open_findings(construct) == []


def test_only_starting_training_listens_to_successes_and_reads_no_log():
    construct, template = build(topic_arn=None)
    assert rule_pattern(template)["detail"]["build-status"] == ["SUCCEEDED"]
    assert set(statements(template)) == {"StartTrainingAfterBuild"}
    assert open_findings(construct) == []


def test_only_notifying_may_start_nothing():
    construct, template = build(start=False)
    actions = {a for s in statements(template).values() for a in as_list(s["Action"])}
    assert "states:StartExecution" not in actions
    assert open_findings(construct) == []


def test_nothing_to_do_is_a_mistake():
    with pytest.raises(ValueError, match="needs a topic to notify or a run to start"):
        build(topic_arn=None, start=False)
