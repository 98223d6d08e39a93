"""Typed value specs: a table of settings or hyperparameters as data, checked into one-line messages.

A table (`Fields`) maps each name to a spec: `Int`, `Number`, `Str`, `Bool`, `Flag`, `Choice`,
`IntList`, `List` or a nested `Fields`; each carries its default, its limits, extra `Check`s and,
where the generated text would be vague, its own `reason`. `Rule`s relate values across a table.
`validate` returns the checked value or raises `SpecError` with one line per problem, each naming
the value by its path (`workshop.training.hyperparameters.num_layers = 17: must be one of ...`).

Two dialects: SETTINGS takes JSON types as they are and reads "workshop.x: 0 must be a positive
integer"; API takes values that may arrive as strings ("25", "0.1") and returns the API's string
form, reading "x = 0: must be a whole number >= 1". Standard library only: the Lambda imports it.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "API",
    "MISSING",
    "SETTINGS",
    "Bool",
    "Check",
    "Choice",
    "Dialect",
    "Fields",
    "Flag",
    "Int",
    "IntList",
    "Invalid",
    "List",
    "Namespace",
    "Number",
    "Problem",
    "Rule",
    "Spec",
    "SpecError",
    "Str",
    "Values",
    "join_path",
    "leaves",
    "validate",
]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN_MAX = 60


def join_path(path: str, key: object) -> str:
    """`path.key`, or `path[3]` for a list index, or `path['a b']` for a key that is not a plain
    name (a newline or a dot in a key must not break the one-line message or read as nesting)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    if isinstance(key, str) and _PLAIN_NAME.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def shown(value: object) -> str:
    """A value inside a message: repr (quotes strings, escapes newlines), cut to one short line."""
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."


def _described_json(value: object) -> str:
    if value is None:
        return "null"  # not "null null"
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    text = json.dumps(value, default=repr)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


class Invalid(Exception):
    """A value breaks its spec. `reason` completes the dialect's sentence; a reason holding
    `{value}` places the value itself (unquoted) instead."""

    def __init__(self, reason: str, *, shows_value: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.shows_value = shows_value

    @classmethod
    def of(cls, reason: str, value: object) -> Invalid:
        if "{value}" in reason:
            return cls(reason.replace("{value}", str(value)), shows_value=False)
        return cls(reason)


class _WrongType(Exception):
    """SETTINGS only: the JSON type is not the spec's ("expected an integer, got string")."""


@dataclass(frozen=True)
class Dialect:
    name: str
    # Values may arrive as strings and are parsed; a table's result is the API's string form.
    lenient: bool

    def message(self, path: str, value: object, invalid: Invalid) -> str:
        if not invalid.shows_value:
            return f"{path}: {invalid.reason}"
        if self.lenient:
            return f"{path} = {shown(value)}: {invalid.reason}"
        return f"{path}: {shown(value)} {invalid.reason}"


SETTINGS = Dialect("settings", lenient=False)
API = Dialect("api", lenient=True)


@dataclass(frozen=True)
class Problem:
    keys: tuple[object, ...]  # where, from the validated table down
    path: str  # the same, as the message names it
    message: str


class SpecError(ValueError):
    """Every problem found, in order; each message is one line naming its value."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problem.message for problem in self.problems))


class Namespace(types.SimpleNamespace):
    """A checked group of settings: read-only attributes in snake_case (`max_runtime_seconds`)."""

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"settings are read-only: {name}")


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass
class _Cursor:
    """Where validation stands: the keys from the root, the dialect, and the problems so far."""

    keys: tuple[object, ...]
    dialect: Dialect
    problems: list[Problem]
    render: Callable[[tuple[object, ...]], str]

    @property
    def path(self) -> str:
        return self.render(self.keys)

    def child(self, *keys: object, dialect: Dialect | None = None) -> _Cursor:
        return _Cursor(self.keys + keys, dialect or self.dialect, self.problems, self.render)

    def note(self, message: str) -> None:
        self.problems.append(Problem(self.keys, self.path, message))

    def invalid(self, value: object, invalid: Invalid) -> None:
        self.note(self.dialect.message(self.path, value, invalid))

    def failed(self, keys: tuple[object, ...], among: int) -> bool:
        """One of the first `among` problems is at `keys`, inside it, or at a group holding it."""
        return any(
            problem.keys[: len(keys)] == keys or keys[: len(problem.keys)] == problem.keys
            for problem in self.problems[:among]
        )


class _Failed:
    pass


FAILED: Any = _Failed()


@dataclass(frozen=True)
class Check:
    """One more condition on a value that passed its spec's own checks."""

    holds: Callable[[Any], bool]
    reason: str


@dataclass(frozen=True, kw_only=True)
class Spec:
    """What every spec has: documentation, a default (MISSING: required), an own `reason` that
    replaces the generated one, and extra `checks`."""

    doc: str = ""
    # MISSING: required. None: optional (absent reads as None, a given value is checked).
    default: Any = MISSING
    reason: str | None = None
    checks: tuple[Check, ...] = ()
    # Shown in the documentation instead of the default's JSON (e.g. "lab 2's values").
    default_doc: str | None = None

    def kind(self) -> str:
        return "a value"

    def kinds(self) -> str:
        return "values"

    def parse(self, value: Any, lenient: bool) -> Any:
        """The typed value; raise Invalid (lenient) or _WrongType (strict) for the wrong type."""
        raise NotImplementedError

    def constrain(self, typed: Any, lenient: bool) -> None:
        """Raise Invalid when the typed value is outside the spec's own limits."""

    def text(self, typed: Any) -> str:
        """The API's string form."""
        return str(typed)

    def finish(self, typed: Any, dialect: Dialect) -> Any:
        """The value handed to the code that uses it."""
        return self.text(typed) if dialect.lenient else typed

    def allowed(self) -> str:
        """What the documentation lists as allowed."""
        return ""

    def keeps_text(self) -> bool:
        """A `-c` override of this setting is kept as typed ("2026" stays a string)."""
        return False

    def implicit_default(self) -> Any:
        return self.default

    def validate(self, value: Any, at: _Cursor) -> Any:
        try:
            typed = self.parse(value, at.dialect.lenient)
            self.constrain(typed, at.dialect.lenient)
        except _WrongType:
            at.note(f"{at.path}: expected {self.kind()}, got {_described_json(value)}")
            return FAILED
        except Invalid as invalid:
            at.invalid(value, invalid if self.reason is None else Invalid.of(self.reason, value))
            return FAILED
        for check in self.checks:
            if not check.holds(typed):
                at.invalid(value, Invalid.of(check.reason, value))
                return FAILED
        return typed


# --- numbers -------------------------------------------------------------------------------------


def _format_number(number: float) -> str:
    number = float(number)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _lenient_int(value: object) -> int:
    number = _parse_int(value)
    # Beyond ~2500 digits str() itself refuses, and the API would refuse the value anyway.
    if number.bit_length() > 8000:
        raise Invalid("is too large")
    return number


def _parse_int(value: object) -> int:
    # bool is an int subclass: `true` for epochs is a mistake, not 1.
    if isinstance(value, bool):
        raise Invalid("must be a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _whole(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return _whole(float(text))
        except ValueError:
            raise Invalid("must be a whole number") from None
    raise Invalid(f"must be a whole number, not a {type(value).__name__}")


def _whole(number: float) -> int:
    if math.isfinite(number) and number.is_integer():
        return int(number)
    raise Invalid("must be a whole number")


def _lenient_float(value: object) -> float:
    if isinstance(value, bool):
        raise Invalid("must be a number, not true/false")
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            raise Invalid("must be a finite number") from None
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise Invalid("must be a number") from None
    raise Invalid(f"must be a number, not a {type(value).__name__}")


def _strict_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _WrongType
    return value


@dataclass(frozen=True, kw_only=True)
class Int(Spec):
    minimum: int | None = None
    maximum: int | None = None

    def kind(self) -> str:
        return "an integer"

    def kinds(self) -> str:
        return "integers"

    def parse(self, value: Any, lenient: bool) -> int:
        return _lenient_int(value) if lenient else _strict_int(value)

    def constrain(self, typed: Any, lenient: bool) -> None:
        low, high = self.minimum, self.maximum
        if (low is not None and typed < low) or (high is not None and typed > high):
            raise Invalid(self._range(lenient))

    def _range(self, lenient: bool) -> str:
        low, high = self.minimum, self.maximum
        if lenient:
            if low is not None and high is not None:
                return f"must be a whole number between {low} and {high}"
            if high is None:
                return f"must be a whole number >= {low}"
            return f"must be a whole number <= {high}"
        if low is not None and high is not None:
            return f"must be between {low} and {high}"
        if low == 1:
            return "must be a positive integer"
        return f"must be an integer >= {low}" if high is None else f"must be an integer <= {high}"

    def allowed(self) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"integer, {low} to {high}"
        if low is not None or high is not None:
            return f"integer >= {low}" if high is None else f"integer <= {high}"
        return "integer"


@dataclass(frozen=True, kw_only=True)
class Number(Spec):
    minimum: float | None = None
    maximum: float | None = None
    exclusive: bool = False

    def kind(self) -> str:
        return "a number"

    def kinds(self) -> str:
        return "numbers"

    def parse(self, value: Any, lenient: bool) -> float:
        if lenient:
            number = _lenient_float(value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise _WrongType
        else:
            number = float(value)
        if not math.isfinite(number):
            raise Invalid("must be a finite number")
        return number

    def constrain(self, typed: Any, lenient: bool) -> None:
        low, high = self.minimum, self.maximum
        if self.exclusive:
            inside = (low is None or typed > low) and (high is None or typed < high)
        else:
            inside = (low is None or typed >= low) and (high is None or typed <= high)
        if not inside:
            raise Invalid(f"must be a number {self._range()}")

    def _range(self) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            opening, closing = ("(", ")") if self.exclusive else ("[", "]")
            return f"in {opening}{_format_number(low)}, {_format_number(high)}{closing}"
        sign = (
            (">" if self.exclusive else ">=") if high is None else ("<" if self.exclusive else "<=")
        )
        bound = low if high is None else high
        return f"{sign} {_format_number(bound or 0.0)}"

    def text(self, typed: Any) -> str:
        return _format_number(typed)

    def allowed(self) -> str:
        if self.minimum is None and self.maximum is None:
            return "a number"
        return f"a number {self._range()}"


# --- text and flags ------------------------------------------------------------------------------


def _string(value: object, lenient: bool) -> str:
    if isinstance(value, str):
        return value
    if lenient:
        raise Invalid(f"must be a string, not a {type(value).__name__}")
    raise _WrongType


@dataclass(frozen=True, kw_only=True)
class Str(Spec):
    pattern: str | None = None  # the whole value must match

    def kind(self) -> str:
        return "a string"

    def kinds(self) -> str:
        return "strings"

    def parse(self, value: Any, lenient: bool) -> str:
        return _string(value, lenient)

    def constrain(self, typed: Any, lenient: bool) -> None:
        if self.pattern is not None and not re.fullmatch(self.pattern, typed):
            raise Invalid(f"must match {self.pattern}")

    def keeps_text(self) -> bool:
        return True

    def allowed(self) -> str:
        # "must be a relative key prefix ..." documents itself; a negative reason does not.
        if self.reason and self.reason.startswith("must "):
            return self.reason.removeprefix("must ").removeprefix("be ")
        return "a string"


@dataclass(frozen=True, kw_only=True)
class Choice(Spec):
    values: tuple[str, ...] | tuple[int, ...]

    def _numeric(self) -> bool:
        return all(isinstance(value, int) for value in self.values)

    def kind(self) -> str:
        return "an integer" if self._numeric() else "a string"

    def kinds(self) -> str:
        return "integers" if self._numeric() else "strings"

    def parse(self, value: Any, lenient: bool) -> Any:
        try:
            if self._numeric():
                return _lenient_int(value) if lenient else _strict_int(value)
            return _string(value, lenient)
        except Invalid:
            # "must be one of ..." says more than "must be a whole number".
            raise Invalid(self._one_of()) from None

    def constrain(self, typed: Any, lenient: bool) -> None:
        if typed not in self.values:
            raise Invalid(self._one_of())

    def _one_of(self) -> str:
        return "must be one of " + ", ".join(map(str, self.values))

    def allowed(self) -> str:
        return self._one_of().removeprefix("must be ")

    def keeps_text(self) -> bool:
        return not self._numeric()


@dataclass(frozen=True, kw_only=True)
class Bool(Spec):
    def kind(self) -> str:
        return "true or false"

    def kinds(self) -> str:
        return "booleans"

    def parse(self, value: Any, lenient: bool) -> bool:
        if isinstance(value, bool):
            return value
        if not lenient:
            raise _WrongType
        # The algorithm documents the Python spellings True/False, unlike its 0/1 flags.
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise Invalid("must be True or False")

    def text(self, typed: Any) -> str:
        return "True" if typed else "False"

    def allowed(self) -> str:
        return "true or false"


@dataclass(frozen=True, kw_only=True)
class Flag(Spec):
    """0 or 1 (true/false are taken as 1/0)."""

    def kind(self) -> str:
        return "0 or 1"

    def parse(self, value: Any, lenient: bool) -> int:
        if isinstance(value, bool) and lenient:
            return int(value)
        try:
            number = _lenient_int(value) if lenient else _strict_int(value)
        except Invalid:
            number = None
        if number is None or number not in (0, 1):
            raise Invalid("must be 0 or 1")
        return number

    def allowed(self) -> str:
        return "0 or 1"


@dataclass(frozen=True, kw_only=True)
class IntList(Spec):
    """Whole numbers given as "3,224,224" or [3, 224, 224]; `reason` says what is expected."""

    reason: str | None
    length: int | None = None
    single: bool = True  # a bare integer is a list of one
    holds: Callable[[tuple[int, ...]], bool] | None = None

    def kind(self) -> str:
        return "a comma-separated list of whole numbers"

    def parse(self, value: Any, lenient: bool) -> tuple[int, ...]:
        if isinstance(value, str) and lenient:
            parts: list[object] = list(value.split(","))
        elif isinstance(value, list | tuple):
            parts = list(value)
        elif self.single and isinstance(value, int) and not isinstance(value, bool):
            parts = [value]
        else:
            raise Invalid("has the wrong form") if lenient else _WrongType
        return tuple(_lenient_int(part) if lenient else _strict_int(part) for part in parts)

    def constrain(self, typed: Any, lenient: bool) -> None:
        if self.length is not None and len(typed) != self.length:
            raise Invalid("has the wrong length")
        if self.holds is not None and not self.holds(typed):
            raise Invalid("is out of range")

    def text(self, typed: Any) -> str:
        return ",".join(str(number) for number in typed)


# --- lists and tables ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class List(Spec):
    item: Spec
    min_items: int = 0
    item_name: str = "item"
    # True: no item twice; a tuple of keys: no two object items share those keys.
    unique: bool | tuple[str, ...] = False

    def kind(self) -> str:
        return f"a list of {self.item.kinds()}"

    def validate(self, value: Any, at: _Cursor) -> Any:
        if not isinstance(value, list) and not (at.dialect.lenient and isinstance(value, tuple)):
            at.note(f"{at.path}: expected {self.kind()}, got {_described_json(value)}")
            return FAILED
        items = [self.item.validate(item, at.child(index)) for index, item in enumerate(value)]
        if len(value) < self.min_items:
            at.invalid(value, Invalid(self._too_few(), shows_value=False))
            return FAILED
        self._check_unique(items, value, at)
        return [item for item in items if item is not FAILED]

    def _too_few(self) -> str:
        if self.min_items == 1:
            return f"must list at least one {self.item_name}"
        return f"must list at least {self.min_items} {self.item_name}s"

    def _check_unique(self, items: list[Any], raw: Sequence[Any], at: _Cursor) -> None:
        if not self.unique:
            return
        keys = self.unique if isinstance(self.unique, tuple) else None
        seen: list[Any] = []
        for index, item in enumerate(items):
            identity = FAILED if item is FAILED else _identity(item, keys)
            if identity is not FAILED and identity in seen:
                first = seen.index(identity)
                if keys is None:
                    reason = Invalid(f"is listed twice (also at [{first}])")
                else:
                    named = " and ".join(keys)
                    reason = Invalid(f"has the same {named} as [{first}]", shows_value=False)
                at.child(index).invalid(raw[index], reason)
            seen.append(identity)

    def finish(self, typed: Any, dialect: Dialect) -> Any:
        return tuple(self.item.finish(item, dialect) for item in typed)

    def allowed(self) -> str:
        least = f", at least {self.min_items}" if self.min_items else ""
        return f"{self.kind()}{least}"


def _identity(item: Any, keys: tuple[str, ...] | None) -> Any:
    if keys is None:
        return item
    return tuple(item.get(key) for key in keys)


@dataclass(frozen=True)
class Rule:
    """A condition between values of one table, reported at `at` (a dotted key of the table).

    It runs when `at` is present and neither it nor any of `needs` failed its own check; an absent
    value reads as its spec's default (or None).
    """

    at: str
    holds: Callable[[Values], bool]
    explain: Callable[[Values], str]
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Fields(Spec):
    """An object with known keys. `fill_defaults`: absent keys take their default (a group of
    settings); otherwise absent keys stay absent and the service applies its own default."""

    fields: Mapping[str, Spec]
    rules: tuple[Rule, ...] = ()
    dialect: Dialect | None = None  # None: the enclosing table's
    fill_defaults: bool = True
    unknown: str = "{path}: unknown setting.{did_you_mean} Known: {known}"
    missing: str = "{path}: expected {kind}, but it is missing"
    no_value: str | None = None  # a null value; None: checked like any value
    max_text: int | None = None  # the longest string form a value may have

    def kind(self) -> str:
        return "an object"

    def allowed(self) -> str:
        return "an object"

    def kinds(self) -> str:
        required = [f'"{key}"' for key, spec in self.fields.items() if spec.default is MISSING]
        return f"{{{', '.join(required)}}} objects" if required else "objects"

    def implicit_default(self) -> Any:
        if self.default is MISSING and self.fill_defaults:
            return {}
        return self.default

    def validate(self, value: Any, at: _Cursor, require: Sequence[str] = ()) -> Any:
        at = at.child(dialect=self.dialect)
        if not isinstance(value, Mapping):
            if at.dialect.lenient:
                at.note(
                    f"{at.path} must be a mapping of name to value, not a {type(value).__name__}"
                )
            else:
                at.note(f"{at.path}: expected {self.kind()}, got {_described_json(value)}")
            return FAILED
        typed: dict[str, Any] = {}
        for key, item in value.items():
            result = self._validate_item(key, item, at)
            if result is not FAILED:
                typed[key] = result
        for key, spec in self.fields.items():
            if key not in value:
                self._absent(key, spec, typed, at, required=key in require)
        # Rules skip values that failed their own checks, not values another rule refused.
        checked = len(at.problems)
        for rule in self.rules:
            _apply(rule, self, typed, at, checked)
        return typed

    def _validate_item(self, key: object, item: Any, at: _Cursor) -> Any:
        if not isinstance(key, str):
            at.note(f"{at.path} has a key {shown(key)} that is not a string")
            return FAILED
        here = at.child(key)
        spec = self.fields.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, list(self.fields), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            known = ", ".join(sorted(self.fields))
            here.note(self.unknown.format(path=here.path, did_you_mean=hint, known=known))
            return FAILED
        if item is None and self.no_value is not None:
            here.note(self.no_value.format(path=here.path))
            return FAILED
        result = spec.validate(item, here)
        if result is not FAILED and self.max_text is not None:
            if len(spec.text(result)) > self.max_text:
                limit = f"is longer than the {self.max_text} characters the API accepts"
                here.invalid(item, Invalid(limit))
                return FAILED
        return result

    def _absent(
        self, key: str, spec: Spec, typed: dict[str, Any], at: _Cursor, *, required: bool
    ) -> None:
        default = spec.implicit_default()
        if required or (self.fill_defaults and default is MISSING):
            here = at.child(key)
            here.note(self.missing.format(path=here.path, kind=spec.kind()))
        elif self.fill_defaults and default is None:
            typed[key] = None  # optional: absent reads as None
        elif self.fill_defaults:
            result = spec.validate(default, at.child(key))
            if result is not FAILED:
                typed[key] = result

    def finish(self, typed: Any, dialect: Dialect) -> Any:
        dialect = self.dialect or dialect
        if dialect.lenient:
            return {key: self.fields[key].text(value) for key, value in typed.items()}
        return Namespace(
            **{
                snake_case(key): self.fields[key].finish(value, dialect)
                for key, value in typed.items()
            }
        )

    def spec_at(self, keys: Sequence[str]) -> Spec | None:
        spec: Spec | None = self
        for key in keys:
            spec = spec.fields.get(key) if isinstance(spec, Fields) else None
        return spec


class Values:
    """What a Rule reads: `values["a.b"]` is the checked value, or its default when absent."""

    def __init__(self, table: Fields, typed: Mapping[str, Any], at: _Cursor) -> None:
        self._table = table
        self._typed = typed
        self._at = at

    def _keys(self, dotted: str) -> tuple[str, ...]:
        return tuple(dotted.split("."))

    def given(self, dotted: str) -> bool:
        node: Any = self._typed
        for key in self._keys(dotted):
            if not isinstance(node, Mapping) or key not in node:
                return False
            node = node[key]
        return True

    def __getitem__(self, dotted: str) -> Any:
        node: Any = self._typed
        spec: Spec | None = self._table
        for key in self._keys(dotted):
            spec = spec.fields.get(key) if isinstance(spec, Fields) else None
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif spec is None or spec.implicit_default() is MISSING:
                return None
            elif isinstance(spec, Fields):
                node = spec.implicit_default()
            else:
                node = spec.parse(spec.default, lenient=True)
        return node

    def name(self, dotted: str) -> str:
        return self._at.render(self._at.keys + self._keys(dotted))

    def text(self, dotted: str) -> str:
        spec = self._table.spec_at(self._keys(dotted))
        value = self[dotted]
        return spec.text(value) if spec is not None else str(value)

    def describe(self, dotted: str) -> str:
        """`table.key = value` when given, else `the default key value`."""
        if self.given(dotted):
            return f"{self.name(dotted)} = {self.text(dotted)}"
        return f"the default {dotted} {self.text(dotted)}"


def _apply(rule: Rule, table: Fields, typed: Mapping[str, Any], at: _Cursor, checked: int) -> None:
    values = Values(table, typed, at)
    involved = (rule.at, *rule.needs)
    if not values.given(rule.at) or any(
        at.failed(at.keys + tuple(name.split(".")), checked) for name in involved
    ):
        return
    if not rule.holds(values):
        here = at.child(*rule.at.split("."))
        here.invalid(values[rule.at], Invalid.of(rule.explain(values), values[rule.at]))


def _renderer(
    root: str, name_of: Callable[[str], str] | None
) -> Callable[[tuple[object, ...]], str]:
    def render(keys: tuple[object, ...]) -> str:
        if not keys:
            return root
        first, *rest = keys
        path = name_of(first) if name_of and isinstance(first, str) else join_path(root, first)
        for key in rest:
            path = join_path(path, key)
        return path

    return render


def validate(
    table: Fields,
    value: Any,
    *,
    root: str,
    dialect: Dialect = SETTINGS,
    name_of: Callable[[str], str] | None = None,
    require: Sequence[str] = (),
) -> Any:
    """The checked value as its users take it (a Namespace of settings, or a dict of API strings).

    `root` names the value in messages; `name_of` may name each top-level key instead (values
    merged from several sources). `require` lists keys that must be present this time.
    Raises SpecError listing every problem.
    """
    problems: list[Problem] = []
    at = _Cursor((), table.dialect or dialect, problems, _renderer(root, name_of))
    typed = table.validate(value, at, require=require)
    if problems:
        raise SpecError(problems)
    return table.finish(typed, at.dialect)


def leaves(table: Fields, prefix: str = "") -> Iterator[tuple[str, Spec]]:
    """(dotted name, spec) of every setting, through groups (tables with defaults filled in)."""
    for key, spec in table.fields.items():
        name = f"{prefix}{key}"
        if isinstance(spec, Fields) and spec.fill_defaults and spec.default is MISSING:
            yield from leaves(spec, name + ".")
        else:
            yield name, spec
