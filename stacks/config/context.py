"""The CDK context outside `cdk synth`: cdk.json's `context` and `-c KEY=VALUE` overrides.

`make workshop-template` and `classroom` (deploy, status, destroy) read the settings as the CDK CLI
hands them to the app: cdk.json's context with each `-c KEY=VALUE` on top, values as strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stacks.config.settings import SettingsError

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    try:
        context = json.loads(path.read_text()).get("context", {})
    except (OSError, json.JSONDecodeError, AttributeError) as error:
        raise SettingsError(f"{path}: cannot read its context ({error})") from None
    if not isinstance(context, dict):
        raise SettingsError(f"{path}: `context` is not an object")
    return context


def with_overrides(context: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """`context` with each `KEY=VALUE` (as `cdk -c` takes them) set."""
    merged = dict(context)
    for item in overrides:
        key, found, value = item.partition("=")
        if not found or not key:
            raise SettingsError(f"-c {item}: expected KEY=VALUE")
        merged[key] = value
    return merged
