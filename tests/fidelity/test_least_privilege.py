"""Every grant of our roles is used by a recorded or tabled call, or carries a reviewed reason."""

from __future__ import annotations

import pytest

from . import mutate
from .least_privilege import REASONS, review
from .simulate import PolicySet, evaluate


def test_every_granted_action_and_resource_is_used_or_has_a_reason(checked):
    problems = []
    for name, result in checked.items():
        problems += [
            f"[{name}] {line}" for line in review(result.policies, result.decisions).unexplained()
        ]
    assert not problems, "\n".join(problems)


def test_every_reason_still_matches_a_grant(checked):
    """A reason whose grant is gone (removed or rescoped) goes too."""
    reviews = [review(c.policies, c.decisions) for c in checked.values()]
    stale = [
        reason
        for reason in REASONS
        if not any(
            reason.covers(grant, kind)
            for r in reviews
            for kind, grants in r.kinds()
            for grant in grants
        )
    ]
    assert not stale, "\n".join(f"{r.component}: {r.action} on {r.resource}" for r in stale)


@pytest.mark.parametrize(
    ("component", "action", "kind"),
    [
        ("state machine", "iam:PassRole", "unconditioned"),
        ("training execution (SageMaker)", "cloudwatch:PutMetricData", "unconditioned"),
        ("training execution (SageMaker)", "s3:ListBucket", "unconditioned"),
    ],
)
def test_dropping_the_condition_that_narrows_a_grant_is_reported(default, component, action, kind):
    def drop(raw, _):
        raw.pop("Condition", None)

    template = mutate.edit(default.template, component, mutate.grants(action), drop)
    policies = PolicySet.of(template)
    lines = review(policies, evaluate(policies, default.requests)).unexplained()
    assert any(
        action in line and component in line and "without the condition" in line for line in lines
    ), lines


def test_a_new_unused_grant_is_reported(default):
    def widen(raw, _):
        raw["Action"] = [*mutate._as_list(raw["Action"]), "s3:PutObjectAcl"]

    template = mutate.edit(
        default.template, "packaging build", mutate.grants("s3:PutObject", "/train/"), widen
    )
    policies = PolicySet.of(template)
    lines = review(policies, evaluate(policies, default.requests)).unexplained()
    assert any(
        "granted, no call uses it: packaging build: s3:PutObjectAcl" in line for line in lines
    ), lines
