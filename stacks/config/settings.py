"""Reading the `workshop` settings: cdk.json's block, `-c` overrides, defaults, validation.

Settings come from the `workshop` block of cdk.json; a setting it leaves out takes its default from
`stacks.config.schema`. Any context key `workshop.a.b=value` (from `cdk -c`) overrides one leaf.
A string setting (and every hyperparameter, which the API takes as strings) keeps the text as
typed; any other setting's value is JSON, and text that does not parse is an error naming the
setting and the JSON problem, so `-c workshop.training.hyperparameters.epochs=25` and
`-c 'workshop.accounts=[...]'` both work. Every error names the setting by its dotted path and fits
on one line.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from stacks.config.schema import SETTINGS
from stacks.training.runtime.workshop_runtime.specs import (
    Fields,
    Namespace,
    SpecError,
    join_path,
    validate,
)

ROOT = "workshop"
# The checked settings: attributes in snake_case (`settings.training.job_name_prefix`).
WorkshopSettings = Namespace


class SettingsError(ValueError):
    """A `workshop` setting is unknown or invalid; the message names it on one line."""


def load_settings(context: Mapping[str, Any]) -> WorkshopSettings:
    """Validated settings from the app's whole context (cdk.json plus `-c` values)."""
    try:
        settings: WorkshopSettings = validate(SETTINGS, merged_settings(context), root=ROOT)
    except SpecError as error:
        raise SettingsError(str(error)) from None
    return settings


def merged_settings(context: Mapping[str, Any]) -> dict[str, Any]:
    """The `workshop` block with every `workshop.x.y` override applied, before validation."""
    block = context.get(ROOT, {})
    if isinstance(block, str):
        # `-c workshop='{...}'` arrives as a string.
        block = _parse_json(block, ROOT)
    if not isinstance(block, dict):
        raise SettingsError(f"{ROOT}: expected an object, got {type(block).__name__}")
    merged = copy.deepcopy(block)
    for key in sorted(k for k in context if k.startswith(ROOT + ".")):
        _override(merged, key.split(".")[1:], context[key])
    return merged


def _parse_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path}: not valid JSON ({error.msg})") from None


def _path(names: list[str]) -> str:
    path = ROOT
    for name in names:
        path = join_path(path, name)
    return path


def _override(settings: dict[str, Any], names: list[str], value: Any) -> None:
    if not all(names):
        raise SettingsError(f"{_path(names)}: empty name in the setting path")
    spec = SETTINGS.spec_at(names)
    # A string setting keeps `-c` text as typed, so a prefix like "2026" stays a string.
    if isinstance(value, str) and not (spec is not None and spec.keeps_text()):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            if spec is not None and not _inside_text_table(names):
                raise SettingsError(
                    f"{_path(names)}: {value!r} is not valid JSON ({error.msg} at column "
                    f"{error.colno}); expected {spec.kind()}"
                ) from None
            # An unknown name (validation names it), or a value the API takes as text.
    node = settings
    for depth, name in enumerate(names[:-1]):
        if name not in node:
            node[name] = _fresh_group(names[: depth + 1])
        child = node[name]
        if not isinstance(child, dict):
            raise SettingsError(
                f"{_path(names)}: unknown setting "
                f"({_path(names[: depth + 1])} is not a group of settings)"
            )
        node = child
    node[names[-1]] = value


def _inside_text_table(names: list[str]) -> bool:
    """Whether the setting lies inside a table whose values the API takes as strings (the
    hyperparameters: `optimizer=sgd` is meant as text)."""
    return any(
        isinstance(table, Fields) and table.dialect is not None and table.dialect.lenient
        for table in (SETTINGS.spec_at(names[:depth]) for depth in range(1, len(names)))
    )


def _fresh_group(names: list[str]) -> dict[str, Any]:
    """What an override finds in a group cdk.json leaves out: its default, so that
    `-c workshop.training.hyperparameters.epochs=25` changes one of lab 2's values, not all."""
    spec = SETTINGS.spec_at(names)
    if isinstance(spec, Fields) and isinstance(spec.implicit_default(), dict):
        return copy.deepcopy(spec.implicit_default())
    return {}
