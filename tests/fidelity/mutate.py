"""Edits of a synthesized template's permissions, found by component and content (no logical ids),
for the tests that prove the harness notices a missing or misplaced permission."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cfn import Template
from .components import component_names
from .simulate import Decision, PolicySet, evaluate

StatementTest = Callable[[dict[str, Any]], bool]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: Template, component: str) -> list[tuple[dict, dict]]:
    """(raw statement, resolved statement) of every identity policy attached to the component."""
    names = component_names(template)
    (role,) = [logical_id for logical_id, name in names.items() if name == component]
    found = []
    for policy in template.of_type("AWS::IAM::Policy").values():
        roles = [template.referenced_logical_id(r) for r in policy["Properties"].get("Roles", [])]
        if role in roles:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found.append((statement, template.resolve(statement)))
    for inline in template.resources[role]["Properties"].get("Policies", []):
        for statement in inline["PolicyDocument"]["Statement"]:
            found.append((statement, template.resolve(statement)))
    return found


def grants(action: str, resource_part: str = "") -> StatementTest:
    return lambda s: action in _as_list(s.get("Action", [])) and (
        not resource_part or any(resource_part in r for r in _as_list(s.get("Resource", [])))
    )


def edit(
    template: Template, component: str, test: StatementTest, change: Callable[[dict, dict], None]
) -> Template:
    """A copy of the template with `change(raw, resolved)` applied to the matching statements."""
    mutated = template.copy()
    matched = [
        (raw, resolved) for raw, resolved in role_statements(mutated, component) if test(resolved)
    ]
    assert matched, f"no statement of {component} matches the mutation"
    for raw, resolved in matched:
        change(raw, resolved)
    for policy in mutated.of_type("AWS::IAM::Policy").values():
        document = policy["Properties"]["PolicyDocument"]
        document["Statement"] = [
            s for s in document["Statement"] if _as_list(s.get("Action", ["x"]))
        ]
    return mutated


def remove_action(
    template: Template, component: str, action: str, resource_part: str = ""
) -> Template:
    def change(raw: dict, _: dict) -> None:
        raw["Action"] = [a for a in _as_list(raw["Action"]) if a != action]

    return edit(template, component, grants(action, resource_part), change)


def rescope(template: Template, component: str, action: str, old: str, new: str) -> Template:
    """Replace `old` by `new` in the resolved resources of the statements granting `action`."""

    def change(raw: dict, resolved: dict) -> None:
        raw["Resource"] = [r.replace(old, new) for r in _as_list(resolved["Resource"])]

    return edit(template, component, grants(action, old), change)


def recheck(policies_of: Template, requests: list) -> tuple[PolicySet, list[Decision]]:
    """The mutated template's policies, and the requests they refuse when the same calls meet them."""
    policies = PolicySet.of(policies_of)
    return policies, [d for d in evaluate(policies, requests) if not d.allowed]
