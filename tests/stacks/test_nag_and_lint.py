"""Gates over the whole app: no open cdk-nag AwsSolutions finding, every acknowledgment explained and
matched to a real finding, cfn-lint clean.

Each construct acknowledges its own findings next to the resource or grant that causes them
(stacks/common/nag.py); the audit below lists them all in one place, with their reasons, as a
snapshot a reviewer reads (`pytest --snapshot-update` after a deliberate change).
"""

from __future__ import annotations

import itertools
import json
import subprocess

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks
from syrupy.extensions.json import JSONSnapshotExtension

from stacks.app import create_app

from .conftest import EVERY_FEATURE, VENV_BIN, acknowledgments, cdk_json_context, open_findings

# Settings that change which findings exist: other prefixes and job prefix, the quota request
# permission, a kept bucket, no synth-time property.
OTHER_SETTINGS = {
    "workshop.prefixes.raw": "incoming/",
    "workshop.prefixes.output": "models/",
    "workshop.training.jobNamePrefix": "cardinal",
    "workshop.training.requestQuotaIncrease": "true",
    "workshop.training.requireGpuQuota": "true",
    "workshop.training.preflightOnEveryDeploy": "false",
    "workshop.retainBucket": "true",
    "workshop.packaging.classes": '["0752", "0772"]',
    "workshop.logRetentionDays": "7",
}
COMBINATIONS = {
    "defaults": {},
    "other settings": OTHER_SETTINGS,
    "every feature": {**OTHER_SETTINGS, **EVERY_FEATURE},
    # Seats: the student roles and the shared build trigger role, with every feature per seat.
    "seats": {**EVERY_FEATURE, "workshop.seats": "2"},
}


def workshop_template_stack(app, settings):
    from stacks.workshop_template.stack import WorkshopTemplateStack

    return WorkshopTemplateStack(app, settings.stack_name, settings=settings)


def one_email(overrides):
    """The template takes one notification address (its NotificationEmail parameter)."""
    emails = overrides.get("workshop.notificationEmails")
    if emails is None:
        return overrides
    return {**overrides, "workshop.notificationEmails": json.dumps(json.loads(emails)[:1])}


# The app as each command builds it: `cdk synth` (the stacks) and `make workshop-template`.
APPS = {
    **{name: (overrides, None) for name, overrides in COMBINATIONS.items()},
    **{
        f"workshop template, {name}": (one_email(overrides), workshop_template_stack)
        for name, overrides in COMBINATIONS.items()
    },
}
PLACEHOLDERS = ("todo", "tbd", "fixme", "n/a", "suppress", "ignore", "false positive")


def test_multi_account_app_has_no_open_findings(multi_account_app):
    app, _ = multi_account_app
    assert open_findings(app) == []


@pytest.mark.parametrize("overrides, add_stacks", APPS.values(), ids=APPS)
def test_every_acknowledgment_matches_a_real_finding(monkeypatch, overrides, add_stacks):
    """Built once with acknowledgments recorded instead of applied: each one must suppress a
    finding cdk-nag reports under its construct, and each finding must have one."""
    recorded: list[tuple[str, str]] = []

    class Recorder:
        def __init__(self, scope):
            self.path = scope.node.path

        def acknowledge(self, *rules):
            recorded.extend((self.path, rule.id) for rule in rules)

        def add_plugins(self, *plugins):
            pass

    monkeypatch.setattr(cdk.Validations, "of", classmethod(lambda cls, scope: Recorder(scope)))
    context = {**cdk_json_context(), **overrides}
    app = create_app(context, add_stacks=add_stacks) if add_stacks else create_app(context)
    monkeypatch.undo()
    report = AwsSolutionsChecks().validate_scope(app)
    findings = [
        (violation.rule_name, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    ]

    def covers(acknowledged, finding) -> bool:
        (path, rule_id), (finding_rule, finding_path) = acknowledged, finding
        return rule_id == finding_rule and (finding_path + "/").startswith(path + "/")

    assert recorded
    stale = [ack for ack in recorded if not any(covers(ack, f) for f in findings)]
    assert stale == [], "acknowledgments that suppress nothing"
    open_ = [f for f in findings if not any(covers(ack, f) for ack in recorded)]
    assert open_ == []


@pytest.mark.parametrize("overrides", [{}, EVERY_FEATURE], ids=["defaults", "every feature"])
def test_every_acknowledgment_gives_a_concrete_reason(overrides, snapshot):
    found = acknowledgments(create_app({**cdk_json_context(), **overrides}))
    for path, rule_id, reason in found:
        assert rule_id.startswith("AwsSolutions-"), (path, rule_id)
        assert len(reason) >= 60 and reason.rstrip().endswith("."), (path, rule_id, reason)
        assert not [word for word in PLACEHOLDERS if word in reason.lower()], (path, reason)
    # IAM5 is acknowledged finding by finding, never for the whole rule.
    assert "AwsSolutions-IAM5" not in {rule_id for _, rule_id, _ in found}
    # Every acknowledgment and its reason, for review in one place.
    listed = [
        {"construct": path, "rule": rule_id, "reason": reason}
        for path, rule_id, reason in sorted(found)
    ]
    assert listed == snapshot.use_extension(JSONSnapshotExtension)


def test_every_workshop_template_acknowledgment_gives_a_concrete_reason(snapshot):
    """Those the template adds to the stacks' (the bucket removal handler's)."""
    found = acknowledgments(create_app(cdk_json_context(), add_stacks=workshop_template_stack))
    for path, rule_id, reason in found:
        assert len(reason) >= 60 and reason.rstrip().endswith("."), (path, rule_id, reason)
        assert not [word for word in PLACEHOLDERS if word in reason.lower()], (path, reason)
    stacks = {(p, r) for p, r, _ in acknowledgments(create_app(cdk_json_context()))}
    added = [
        {"construct": path, "rule": rule_id, "reason": reason}
        for path, rule_id, reason in sorted(found)
        if (path, rule_id) not in stacks
    ]
    assert added == snapshot.use_extension(JSONSnapshotExtension)


@pytest.fixture(scope="module")
def all_templates(cli_assembly, multi_account_app, workshop_bundle):
    _, assembly = multi_account_app
    return (
        cli_assembly.template_paths()
        + sorted(
            path
            for stack in assembly.stacks
            for path in [assembly.directory + "/" + stack.template_file]
        )
        + [workshop_bundle.template_path]
    )


def test_cfn_lint_is_clean_on_every_template(all_templates):
    assert len(all_templates) == 4
    result = subprocess.run(
        [str(VENV_BIN / "cfn-lint"), "--ignore-checks", "W3005", "--", *map(str, all_templates)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- every combination of the training-day settings ------------------------------------------------

FEATURES = {
    "spot": [False, True],
    "fallback": [False, True],
    "instances": [1, 2],
    "mail": ["none", "emails", "emails and budget"],
    "start after packaging": [False, True],
}
# Every pair of values of any two settings appears in some row (a pairwise covering array: six
# synths instead of 48; test_the_combinations_cover_every_pair_of_values checks it).
FEATURE_ROWS = [
    (False, True, 1, "none", False),
    (True, False, 2, "none", True),
    (False, False, 2, "emails and budget", False),
    (True, True, 1, "emails and budget", True),
    (False, True, 2, "emails", True),
    (True, False, 1, "emails", False),
]


def feature_context(row) -> dict[str, str]:
    spot, fallback, instances, mail, start = row
    context = {
        "workshop.training.spot": json.dumps(spot),
        "workshop.training.spotFallbackToOnDemand": json.dumps(fallback),
        "workshop.training.instanceCount": str(instances),
        "workshop.training.startAfterPackaging": json.dumps(start),
    }
    if instances > 1:
        context["workshop.training.hyperparameters.kv_store"] = "dist_sync"
    if mail != "none":
        context["workshop.notificationEmails"] = '["ana@example.com"]'
    if mail == "emails and budget":
        context["workshop.budgetMonthlyUsd"] = "25"
    return context


def row_id(row) -> str:
    return ", ".join(f"{name}={value}" for name, value in zip(FEATURES, row, strict=True))


def test_the_combinations_cover_every_pair_of_values():
    names = list(FEATURES)
    for (i, first), (j, second) in itertools.combinations(enumerate(names), 2):
        seen = {(row[i], row[j]) for row in FEATURE_ROWS}
        wanted = set(itertools.product(FEATURES[first], FEATURES[second]))
        assert seen == wanted, (first, second, wanted - seen)


@pytest.fixture(scope="module")
def feature_apps(tmp_path_factory):
    apps = {}
    for row in FEATURE_ROWS:
        outdir = tmp_path_factory.mktemp("features")
        app = create_app({**cdk_json_context(), **feature_context(row)}, outdir=str(outdir))
        apps[row_id(row)] = (app, app.synth())
    return apps


@pytest.mark.parametrize("row", FEATURE_ROWS, ids=row_id)
def test_every_combination_of_the_new_settings_has_no_open_finding(feature_apps, row):
    app, _ = feature_apps[row_id(row)]
    assert open_findings(app) == []


def test_every_combination_of_the_new_settings_is_cfn_lint_clean(feature_apps):
    paths = [
        assembly.directory + "/" + stack.template_file
        for _, assembly in feature_apps.values()
        for stack in assembly.stacks
    ]
    assert len(paths) == len(FEATURE_ROWS)
    result = subprocess.run(
        [str(VENV_BIN / "cfn-lint"), "--ignore-checks", "W3005", "--", *paths],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
