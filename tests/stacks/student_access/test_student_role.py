"""StudentRole on a bare stack: trusts the account only, reaches only its seat's state machine,
build (as defined, no overrides), jobs and logs, acknowledges its findings, and links the console's
switch-role page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk.assertions import Template

from stacks.student_access import SeatResources, StudentRole
from stacks.student_access.student_role import BUILD_OVERRIDE_KEYS, DISPLAY_NAME_MAX

from ..conftest import bare_stack, open_findings, pass_state_machine, render, resources_of_type


@pytest.fixture(scope="module")
def built():
    stack = bare_stack()
    machine = pass_state_machine(stack)
    project = codebuild.Project(
        stack,
        "Project",
        build_spec=codebuild.BuildSpec.from_object({"version": "0.2", "phases": {}}),
    )
    student = StudentRole(
        stack,
        "Student",
        seat=SeatResources(
            state_machine=machine,
            project=project,
            build_log_group_name="/seat-03/build",
            job_name_prefix="birds-s03",
        ),
        display_name="A workshop whose name is long enough to pass the console's limit, seat 03",
    )
    return stack, student, Template.from_stack(stack)


def statements(template: Template) -> dict[str, dict]:
    (policy,) = [
        p
        for i, p in resources_of_type(template.to_json(), "AWS::IAM::Policy").items()
        if i.startswith("StudentPolicy")
    ]
    return {s["Sid"]: s for s in render(policy["Properties"]["PolicyDocument"]["Statement"])}


def test_only_the_account_may_assume_it(built):
    _, _, template = built
    (role,) = [
        r
        for i, r in resources_of_type(template.to_json(), "AWS::IAM::Role").items()
        if i.startswith("StudentRole")
    ]
    (trust,) = render(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    assert trust["Principal"] == {"AWS": "arn:<AWS::Partition>:iam::<AWS::AccountId>:root"}
    assert trust["Action"] == "sts:AssumeRole"


def test_every_statement_is_scoped_to_the_seat(built):
    _, _, template = built
    found = statements(template)
    assert found["StartOwnTrainingRuns"]["Resource"] == "<Machine6FC8AE80>"
    assert found["FollowOwnTrainingJobs"]["Resource"].endswith(":training-job/birds-s03-*")
    assert found["ReadOwnTrainingLogs"]["Resource"].endswith(
        ":log-group:/aws/sagemaker/TrainingJobs:log-stream:birds-s03-*"
    )
    assert found["ReadOwnBuildLogStreams"]["Resource"].endswith(
        ":log-group:/seat-03/build:log-stream:*"
    )
    assert found["StartOwnBuildAsDefined"]["Condition"] == {
        "Null": dict.fromkeys(BUILD_OVERRIDE_KEYS, "true")
    }
    wide = [sid for sid, s in found.items() if s["Resource"] == "*"]
    assert wide == ["ConsoleLists"]
    assert all("*" not in action for s in found.values() for action in s["Action"])


def test_findings_are_acknowledged_with_reasons(built):
    _, student, _ = built
    assert open_findings(student) == []


def test_the_switch_role_link_names_role_account_and_a_short_display_name(built):
    stack, student, _ = built
    link = render(stack.resolve(student.switch_role_url()))
    parts = urlsplit(link)
    assert (parts.netloc, parts.path) == ("signin.aws.amazon.com", "/switchrole")
    query = parse_qs(parts.query)
    assert query["roleName"][0].startswith("<StudentRole")
    assert query["account"] == ["<AWS::AccountId>"]
    assert len(query["displayName"][0]) == DISPLAY_NAME_MAX
