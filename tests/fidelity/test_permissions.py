"""Every AWS call of every component, recorded or tabled, is allowed by the synthesized policies."""

from __future__ import annotations

import pytest

from .simulate import explain


def test_every_call_is_allowed_by_its_role_and_the_bucket_policy(checked):
    refused = [
        explain(c.policies, d) for c in checked.values() for d in c.decisions if not d.allowed
    ]
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize(
    "component",
    [
        "packaging build",
        "prepare function",
        "report function",
        "preflight function",
        "state machine",
        "training execution (SageMaker)",
        "EventBridge rule role (CodeBuild target)",
        "preflight provider framework",
        "CDK auto-delete-objects handler",
        "CDK bucket-notifications handler",
    ],
)
def test_each_component_made_calls(default, component):
    assert any(r.call.component == component for r in default.requests), component
