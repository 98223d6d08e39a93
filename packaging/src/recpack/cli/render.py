"""Option values back into command-line arguments, through a parser's own option definitions: what
lets another program (the CDK stack's buildspec) build a recpack command without spelling options."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

OptionValue = str | int | float | bool | Sequence[str] | None


def _text(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)  # repr: floats round-trip


def _checked(action: argparse.Action, text: str) -> str:
    """`text`, once the option's own type and choices accept it."""
    flag = action.option_strings[0]
    try:
        value = action.type(text) if callable(action.type) else text
    except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
        raise ValueError(f"{flag}: {exc}") from None
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"{flag}: {text!r} is not one of {list(action.choices)}")
    return text


def _pair(flag: str, text: str) -> list[str]:
    # A value that starts with '-' would be read as an option: --flag=value keeps it a value.
    return [f"{flag}={text}"] if text.startswith("-") else [flag, text]


def _render(action: argparse.Action, value: OptionValue) -> list[str]:
    flag = action.option_strings[0]
    if action.nargs == 0:  # a flag (store_true and the like)
        if value == action.const:
            return [flag]
        if value == action.default:
            return []
        raise ValueError(f"{flag} is a flag: {value!r} is neither {action.const!r} nor set")
    if isinstance(value, str) or not isinstance(value, Sequence):
        return _pair(flag, _checked(action, _text(value)))
    texts = [_checked(action, _text(item)) for item in value]
    if action.nargs in ("+", "*"):
        if any(text.startswith("-") for text in texts):
            raise ValueError(f"{flag}: among several values, one cannot start with '-'")
        return [flag, *texts]
    if isinstance(action, argparse._AppendAction):  # argparse names no public type for it
        return [word for text in texts for word in _pair(flag, text)]
    raise ValueError(f"{flag} takes one value, not {value!r}")


def render_options(parser: argparse.ArgumentParser, values: Mapping[str, OptionValue]) -> list[str]:
    """Arguments that `parser` parses back to `values` (keyed by each option's dest), in the order
    the parser defines its options. An option left out, or None, is not rendered: its default
    applies. Raises TypeError for an unknown or missing required option, ValueError for a value the
    option's type or choices refuse."""
    options = {action.dest: action for action in parser._actions if action.option_strings}
    unknown = sorted(set(values) - set(options))
    if unknown:
        raise TypeError(f"no such option: {', '.join(unknown)}")
    arguments: list[str] = []
    for dest, action in options.items():
        value = values.get(dest)
        if value is None:
            if action.required:
                raise TypeError(f"{action.option_strings[0]} is required")
            continue
        arguments += _render(action, value)
    return arguments
