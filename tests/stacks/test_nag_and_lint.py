"""Gates: no unacknowledged cdk-nag AwsSolutions finding, every acknowledgment explained, cfn-lint clean."""

from __future__ import annotations

import json
import subprocess

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from .conftest import VENV_BIN, cdk_json_context


def acknowledgments(app: cdk.App) -> list[tuple[str, str, str]]:
    found = []

    def walk(construct):
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in entry.data.items():
                    found.append((construct.node.path, rule_id, reason))
        for child in construct.node.children:
            walk(child)

    walk(app)
    return found


def test_multi_account_app_has_no_open_findings(multi_account_app):
    app, _ = multi_account_app
    report = AwsSolutionsChecks().validate_scope(app)
    assert report.success, [violation.rule_name for violation in report.violations]


def test_non_default_settings_have_no_open_findings():
    # Other prefixes, a job prefix, the quota request permission and a kept bucket change the findings.
    from stacks.workshop_stack import create_app

    context = {
        **cdk_json_context(),
        "workshop.prefixes.raw": "incoming/",
        "workshop.prefixes.output": "models/",
        "workshop.training.jobNamePrefix": "cardinal",
        "workshop.training.requestQuotaIncrease": "true",
        "workshop.training.requireGpuQuota": "true",
        "workshop.training.preflightOnEveryDeploy": "false",
        "workshop.retainBucket": "true",
        "workshop.packaging.classes": '["0752", "0772"]',
    }
    app = create_app(context)
    report = AwsSolutionsChecks().validate_scope(app)
    assert report.success, [violation.rule_name for violation in report.violations]
    (stack,) = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    from stacks.training.runtime.workshop_runtime import preflight

    policy = stack.functions.preflight.role.node.find_child("DefaultPolicy").node.default_child
    statements = json.dumps(stack.resolve(policy.policy_document))
    assert all(action in statements for action in preflight.IAM_ACTIONS)
    assert "SynthesizedAt" not in stack.preflight.properties


def test_every_acknowledgment_gives_a_concrete_reason(multi_account_app):
    app, _ = multi_account_app
    found = acknowledgments(app)
    assert found
    for path, rule_id, reason in found:
        assert rule_id.removeprefix("Annotation::").startswith("AwsSolutions-"), (path, rule_id)
        assert len(reason) >= 60, (path, rule_id, reason)
    # IAM5 is acknowledged finding by finding, never for the whole rule.
    assert not [
        rule_id
        for _, rule_id, _ in found
        if rule_id.removeprefix("Annotation::") == "AwsSolutions-IAM5"
    ]


@pytest.fixture(scope="module")
def all_templates(cli_assembly, multi_account_app):
    _, assembly = multi_account_app
    return cli_assembly.template_paths() + sorted(
        path
        for stack in assembly.stacks
        for path in [assembly.directory + "/" + stack.template_file]
    )


def test_cfn_lint_is_clean_on_every_template(all_templates):
    assert len(all_templates) == 3
    result = subprocess.run(
        [str(VENV_BIN / "cfn-lint"), "--ignore-checks", "W3005", "--", *map(str, all_templates)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
