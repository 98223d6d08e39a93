"""Settings the workshop template takes as CloudFormation parameters, checked as the settings are.

Workshop Studio, StackSets and the console deploy one template into many accounts, so values that
differ per account are template parameters (stacks/workshop_template). Each row of
`TEMPLATE_PARAMETERS` names a setting; its parameter's type and constraints (AllowedPattern,
AllowedValues, MinValue/MaxValue, ConstraintDescription) are derived from that setting's spec in
stacks/config/schema.py, never written a second time. CloudFormation cannot express everything a
spec checks (a Python check, a cross-field rule, unique list items): such a check must be listed in
the row's `unchecked` with why a value it would refuse does no harm, or `definition` refuses.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stacks.config.schema import SETTINGS
from stacks.training.runtime.workshop_runtime.specs import (
    Bool,
    Choice,
    Fields,
    Int,
    List,
    Number,
    Rule,
    Spec,
    Str,
    snake_case,
)


@dataclass(frozen=True)
class TemplateParameter:
    setting: str  # dotted, as in cdk.json: "training.instanceTypes"
    name: str  # the parameter's logical id: "InstanceTypes"
    description: str
    # A check of the spec CloudFormation cannot make -> why a value it would refuse does no harm.
    unchecked: Mapping[str, str] = field(default_factory=dict)
    # A list setting taken as one item, empty for none: a template cannot make one resource per
    # item of a CommaDelimitedList (say, one email subscription per address) without a transform.
    one_item: bool = False


# A new per-account parameter: a row here, and its binding in stacks/workshop_template/stack.py.
TEMPLATE_PARAMETERS = (
    TemplateParameter(
        setting="training.instanceTypes",
        name="InstanceTypes",
        description="Training instance types, preferred first (comma-separated); each run uses "
        "the first with free quota",
        unchecked={
            "unique": "A type listed twice is only looked at twice: the first with free quota "
            "is used either way.",
        },
    ),
    TemplateParameter(
        setting="notificationEmails",
        name="NotificationEmail",
        description="An address that gets one email per packaging build and training run (after "
        "confirming the subscription), and the budget's alerts; empty: none",
        one_item=True,
        unchecked={
            "rule budgetMonthlyUsd": "The template makes the budget only when an address is given "
            "(one, within AWS Budgets' 10).",
        },
    ),
    TemplateParameter(
        setting="retainBucket",
        name="RetainBucket",
        description="true keeps the bucket and its objects when the stack is deleted",
    ),
)


class ParameterError(ValueError):
    """A setting's spec has a check the template could not make and no reason to skip it."""


@dataclass(frozen=True)
class ParameterDefinition:
    """What `cdk.CfnParameter` takes (snake_case keyword arguments)."""

    type: str
    default: str
    description: str
    constraint_description: str
    allowed_pattern: str | None = None
    allowed_values: list[str] | None = None
    min_value: float | None = None
    max_value: float | None = None

    def cfn_parameter_arguments(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def spec_of(setting: str, table: Fields = SETTINGS) -> Spec:
    spec = table.spec_at(setting.split("."))
    if spec is None:
        raise ParameterError(f"{setting}: no such setting in stacks/config/schema.py")
    return spec


def setting_value(settings: Any, setting: str) -> Any:
    """The checked value of a dotted setting in the settings namespace."""
    value = settings
    for name in setting.split("."):
        value = getattr(value, snake_case(name))
    return value


def parameter_text(spec: Spec, value: Any) -> str:
    """A setting's value as CloudFormation passes the parameter: true/false, a comma list."""
    if isinstance(spec, Bool):
        return "true" if value else "false"
    if isinstance(spec, List):
        return ",".join(parameter_text(spec.item, item) for item in value)
    return str(value)


def definition(
    parameter: TemplateParameter, settings: Any, table: Fields = SETTINGS
) -> ParameterDefinition:
    """The parameter for one row, its default the setting's value in `settings` (checked against
    `table`, the settings' spec table)."""
    spec = spec_of(parameter.setting, table)
    value = setting_value(settings, parameter.setting)
    if parameter.one_item:
        spec, value = _one_item(parameter.setting, spec, value)
    uncheckable = _uncheckable(parameter.setting, spec, table)
    unexplained = [check for check in uncheckable if check not in parameter.unchecked]
    if unexplained:
        raise ParameterError(
            f"{parameter.setting}: the template cannot check its {', '.join(unexplained)}; give "
            "the reason it may go unchecked in TEMPLATE_PARAMETERS (`unchecked`), or keep the "
            "setting out of the template"
        )
    stale = sorted(set(parameter.unchecked) - set(uncheckable))
    if stale:
        raise ParameterError(
            f"{parameter.setting}: `unchecked` names no check of its spec: {stale}"
        )
    constraints = _constraints(parameter.setting, spec)
    return ParameterDefinition(
        default="" if value is None else parameter_text(spec, value),
        description=parameter.description,
        constraint_description=f"workshop.{parameter.setting}: {constraints.pop('rule')}",
        **constraints,
    )


def _one_item(setting: str, spec: Spec, value: Any) -> tuple[Spec, Any]:
    """The item's spec (an empty value allowed when the list may be empty) and the one value."""
    if not isinstance(spec, List) or not isinstance(spec.item, Str) or spec.min_items > 1:
        raise ParameterError(
            f"{setting}: only a list of strings of at most one item has a one-item form"
        )
    if len(value) > 1:
        raise ParameterError(
            f"{setting}: the template takes one value per account and the settings list "
            f"{len(value)}; give one, e.g. -c 'workshop.{setting}=[\"{value[0]}\"]'"
        )
    item = spec.item
    if spec.min_items == 0 and _refuses_empty(item):
        item = dataclasses.replace(
            item, pattern=f"(?:{item.pattern})?", reason=f"{_rule(item)}, or be empty for none"
        )
    return item, value[0] if value else None


def _uncheckable(setting: str, spec: Spec, table: Fields) -> list[str]:
    """The spec's checks no parameter constraint can make."""
    found = ["checks"] if spec.checks else []
    if isinstance(spec, Int):
        found.append("whole number")  # CloudFormation's Number takes any decimal
    if isinstance(spec, Number) and spec.exclusive:
        found.append("exclusive bounds")  # MinValue/MaxValue are inclusive
    if isinstance(spec, List):
        found += ["unique"] if spec.unique else []
        found += ["item checks"] if spec.item.checks else []
        if spec.min_items == 0 and _refuses_empty(spec.item):
            # An empty value must pass for the empty list, so an empty item passes too.
            found.append("empty items")
    return found + _rules_on(setting, table)


def _rules_on(setting: str, table: Fields) -> list[str]:
    """`rule <at>` for every cross-field rule that reads the setting."""
    found = []
    names = setting.split(".")
    group: Spec | None = table
    for depth in range(len(names)):
        if not isinstance(group, Fields):
            break
        relative = ".".join(names[depth:])
        found += [f"rule {r.at}" for r in group.rules if _reads(r, relative)]
        group = group.fields.get(names[depth])
    return found


def _reads(rule: Rule, name: str) -> bool:
    return name in (rule.at, *rule.needs)


def _constraints(setting: str, spec: Spec) -> dict[str, Any]:
    if isinstance(spec, Bool):
        return {"type": "String", "allowed_values": ["true", "false"], "rule": "true or false"}
    if isinstance(spec, Choice):
        numeric = all(isinstance(v, int) for v in spec.values)
        return {
            "type": "Number" if numeric else "String",
            "allowed_values": [str(v) for v in spec.values],
            "rule": _rule(spec),
        }
    if isinstance(spec, Int | Number):
        bounds = {"min_value": spec.minimum, "max_value": spec.maximum}
        return {"type": "Number", **bounds, "rule": _rule(spec)}
    if isinstance(spec, Str):
        pattern = {"allowed_pattern": spec.pattern} if spec.pattern else {}
        return {"type": "String", **pattern, "rule": _rule(spec)}
    if isinstance(spec, List) and isinstance(spec.item, Str):
        return _list(setting, spec, spec.item)
    raise ParameterError(f"{setting}: a {type(spec).__name__} setting has no parameter form")


def _list(setting: str, spec: List, item: Str) -> dict[str, Any]:
    # CloudFormation applies AllowedPattern to every item of a CommaDelimitedList; an empty value
    # is one empty item, which a pattern without the empty string refuses (at least one item).
    if spec.min_items > 1 or (spec.min_items == 1 and not _refuses_empty(item)):
        raise ParameterError(
            f"{setting}: a list of at least {spec.min_items} has no parameter form"
        )
    pattern = {}
    if item.pattern is not None:
        empty_list = spec.min_items == 0 and _refuses_empty(item)
        pattern = {"allowed_pattern": f"(?:{item.pattern})?" if empty_list else item.pattern}
    least = "at least one, " if spec.min_items else ""
    return {
        "type": "CommaDelimitedList",
        **pattern,
        "rule": f"comma-separated, {least}each {_rule(item)}",
    }


def _refuses_empty(item: Str) -> bool:
    return item.pattern is not None and re.fullmatch(item.pattern, "") is None


def _rule(spec: Spec) -> str:
    """The spec's rule as one "must ..." phrase, from its own reason where it has one."""
    reason = spec.reason or ""
    if reason.startswith("must "):
        return reason
    if reason.startswith("is not "):
        return "must be " + reason.removeprefix("is not ")
    allowed = spec.allowed()
    if isinstance(spec, Str) and spec.pattern and allowed == "a string":
        return f"must match {spec.pattern}"
    return f"must be {allowed}"
