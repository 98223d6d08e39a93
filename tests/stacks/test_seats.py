"""A stack with seats: every gate passes, each seat has its own build, state machine, jobs, role and
outputs under its own prefix, and all seats share the one queue. (IAM isolation is executed in
tests/fidelity/test_seat_isolation.py; seats = 1 is the snapshot in test_snapshots.py.)"""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stacks import app as app_module
from stacks.app import create_app
from stacks.config import SettingsError, load_settings
from stacks.config.seats import MAX_SEATS, seat_layouts

from ..conftest import SEATED
from .conftest import VENV_BIN, cdk_json_context, open_findings, render, resources_of_type
from .test_security_gates import CHECKOV, checkov_report


def template_of(seated_apps, name: str) -> dict[str, Any]:
    _, assembly = seated_apps[name]
    (stack,) = assembly.stacks
    return stack.template


def template_paths(seated_apps) -> dict[str, Path]:
    return {
        name: Path(assembly.directory) / stack.template_file
        for name, (_, assembly) in seated_apps.items()
        for stack in assembly.stacks
    }


@pytest.mark.parametrize("name", SEATED)
def test_a_stack_with_seats_has_no_open_cdk_nag_finding(seated_apps, name):
    app, _ = seated_apps[name]
    assert open_findings(app) == []


def test_stacks_with_seats_are_cfn_lint_clean(seated_apps):
    paths = list(template_paths(seated_apps).values())
    assert len(paths) == len(SEATED)
    result = subprocess.run(
        [str(VENV_BIN / "cfn-lint"), "--ignore-checks", "W3005", "--", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_a_stack_with_three_seats(seated_apps):
    if not CHECKOV.exists():
        pytest.fail("checkov is missing: `make setup` installs it into .venv/checkov")
    report = checkov_report(template_paths(seated_apps)["3 seats"])
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []


def functions_by_seat(template: dict[str, Any], handler: str) -> dict[str, dict[str, str]]:
    """seat label -> environment of that seat's function running `handler`."""
    found = {}
    for logical_id, function in resources_of_type(template, "AWS::Lambda::Function").items():
        properties = function["Properties"]
        if properties.get("Handler") == f"workshop_runtime.{handler}.handler":
            found[logical_id[4:6]] = render(properties["Environment"]["Variables"])
    return found


def test_each_seat_has_its_own_prefixes_build_state_machine_and_jobs(seated_apps):
    template = template_of(seated_apps, "3 seats")
    seats = ["01", "02", "03"]
    rules = resources_of_type(template, "AWS::Events::Rule")
    for seat in seats:
        (rule,) = [r for i, r in rules.items() if i.startswith(f"Seat{seat}PackagingBuild")]
        keys = rule["Properties"]["EventPattern"]["detail"]["object"]["key"]
        assert {k["wildcard"].split("*")[0] for k in keys} == {f"seat-{seat}/raw/"}
    assert {s: e["JOB_NAME_PREFIX"] for s, e in functions_by_seat(template, "prepare").items()} == {
        s: f"birds-s{s}" for s in seats
    }
    assert {s: e["MANIFEST_KEY"] for s, e in functions_by_seat(template, "prepare").items()} == {
        s: f"seat-{s}/manifest.json" for s in seats
    }
    assert {s: e["OUTPUT_PREFIX"] for s, e in functions_by_seat(template, "report").items()} == {
        s: f"seat-{s}/output/" for s in seats
    }
    machines = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    assert sorted(i[:6] for i in machines) == [f"Seat{s}" for s in seats]
    for logical_id, machine in machines.items():
        definition = json.dumps(render(machine["Properties"]["DefinitionString"]))
        seat = logical_id[4:6]
        assert f"seat-{seat}/train/" in definition and f"seat-{seat}/output/" in definition
        assert not any(f"seat-{other}/" in definition for other in seats if other != seat)
    projects = resources_of_type(template, "AWS::CodeBuild::Project")
    assert sorted(i[:6] for i in projects) == [f"Seat{s}" for s in seats]


def test_every_seats_choose_waits_in_the_one_shared_queue(seated_apps):
    template = template_of(seated_apps, "3 seats")
    queues = {s: e["QUEUE_PREFIX"] for s, e in functions_by_seat(template, "choose").items()}
    assert queues == {"01": "queue/", "02": "queue/", "03": "queue/"}


def test_each_seat_outputs_its_switch_role_link_and_places(seated_apps):
    outputs = template_of(seated_apps, "3 seats")["Outputs"]
    link = render(outputs["Seat02SwitchRoleUrl"]["Value"])
    assert link.startswith("https://signin.aws.amazon.com/switchrole?roleName=<Seat02StudentRole")
    assert "&account=<AWS::AccountId>&displayName=BirdsWorkshop%20seat%2002" in link
    assert render(outputs["Seat03RawImagesUri"]["Value"]).endswith("/seat-03/raw/")
    assert render(outputs["Seat01StudentRoleArn"]["Value"]) == "<Seat01StudentRoleCEDA89C1.Arn>"
    # One seat's outputs only under its own name; none of the single-seat names remain.
    assert "RawImagesUri" not in outputs and "TrainingStateMachineArn" not in outputs


def test_the_student_role_trusts_only_the_account(seated_apps):
    template = template_of(seated_apps, "3 seats")
    roles = resources_of_type(template, "AWS::IAM::Role")
    students = {i: r for i, r in roles.items() if "StudentRole" in i}
    assert len(students) == 3
    for role in students.values():
        (statement,) = render(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
        assert statement["Principal"] == {"AWS": "arn:<AWS::Partition>:iam::<AWS::AccountId>:root"}


def test_no_seats_job_names_or_keys_start_with_another_seats():
    settings = load_settings({"workshop.seats": str(MAX_SEATS)})
    layouts = seat_layouts(settings)
    assert len(layouts) == MAX_SEATS
    for one, other in itertools.permutations(layouts, 2):
        # IAM and the teardown match "<prefix>-*"; a job name of the other seat never fits it.
        assert not (other.job_name_prefix + "-").startswith(one.job_name_prefix + "-")
        assert not other.key_prefix.startswith(one.key_prefix)
        assert not settings.prefixes.queue.startswith(one.key_prefix)


def test_a_stack_past_cloudformations_limits_is_refused_at_synth(monkeypatch, tmp_path):
    monkeypatch.setattr(app_module, "MAX_RESOURCES", 60)
    with pytest.raises(SettingsError, match=r"^workshop.seats: 2 seats make \d+ resources"):
        create_app({**cdk_json_context(), "workshop.seats": "2"}, outdir=str(tmp_path))
