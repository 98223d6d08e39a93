"""Amazon States Language data flow, as Step Functions applies it: paths, Parameters, ResultSelector,
ResultPath, Choice rules, Catch. Used to walk a synthesized definition with real task results, so
every JSONPath a state reads is resolved against what the state before it really produced; a path
that does not exist fails naming the state and the path.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_TRANSITIONS = 200


class PathError(Exception):
    """A JSONPath a state reads is not in its input (Step Functions fails the execution)."""


class TaskFailure(Exception):
    def __init__(self, error: str, cause: str = ""):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


_STEP = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']+)'\]")


def read_path(data: Any, path: str, where: str, context: dict | None = None) -> Any:
    if path.startswith("$$"):
        data, path = context or {}, path[1:]
    if not path.startswith("$"):
        raise PathError(f"{where}: {path!r} is not a JSONPath")
    position, value = 1, data
    while position < len(path):
        match = _STEP.match(path, position)
        if not match:
            raise PathError(f"{where}: JSONPath {path!r} uses syntax this walker does not know")
        name, index, quoted = match.groups()
        key = name or quoted
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                shown = sorted(value) if isinstance(value, dict) else type(value).__name__
                raise PathError(f"{where}: {path} - {key!r} is not in the state data (has {shown})")
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise PathError(f"{where}: {path} - no item {index}")
            value = value[int(index)]
        position = match.end()
    return value


def write_path(data: Any, path: str | None, result: Any, where: str) -> Any:
    """ResultPath: None discards the result, "$" replaces the input, "$.a.b" sets a field."""
    if path is None:
        return data
    if path == "$":
        return result
    names = [m.group(1) or m.group(3) for m in _STEP.finditer(path, 1)]
    if not names or any(n is None for n in names):
        raise PathError(f"{where}: ResultPath {path!r} is not a plain reference path")
    output = copy.deepcopy(data) if isinstance(data, dict) else {}
    node = output
    for name in names[:-1]:
        node = node.setdefault(name, {})
    node[names[-1]] = result
    return output


def _split_arguments(text: str) -> list[str]:
    parts, depth, current, quoted = [], 0, "", False
    for char in text:
        if char == "'" and not current.endswith("\\"):
            quoted = not quoted
        if not quoted and char in "(":
            depth += 1
        if not quoted and char in ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def intrinsic(expression: str, data: Any, where: str, context: dict) -> Any:
    match = re.fullmatch(r"(States\.[A-Za-z]+)\((.*)\)", expression.strip(), re.S)
    if not match:
        raise PathError(f"{where}: {expression!r} is not an intrinsic function call")
    name, raw = match.groups()
    arguments = []
    for argument in _split_arguments(raw):
        if argument.startswith("'"):
            arguments.append(argument[1:-1].replace("\\'", "'"))
        elif argument.startswith("$"):
            arguments.append(read_path(data, argument, where, context))
        elif argument.startswith("States."):
            arguments.append(intrinsic(argument, data, where, context))
        else:
            arguments.append(json.loads(argument))
    functions: dict[str, Callable[..., Any]] = {
        "States.Format": lambda template, *values: _format(template, values),
        "States.JsonToString": lambda value: json.dumps(value, separators=(",", ":")),
        "States.StringToJson": json.loads,
        "States.Array": lambda *values: list(values),
        "States.ArrayLength": len,
        "States.ArrayGetItem": lambda values, index: values[int(index)],
        "States.ArrayContains": lambda values, value: value in values,
        "States.MathAdd": lambda a, b: a + b,
        "States.UUID": lambda: "00000000-0000-4000-8000-000000000000",
    }
    if name not in functions:
        raise PathError(f"{where}: intrinsic {name} is not known to tests/fidelity/states.py")
    return functions[name](*arguments)


def _format(template: str, values: tuple) -> str:
    pieces = template.split("{}")
    if len(pieces) != len(values) + 1:
        raise PathError(
            f"States.Format {template!r} has {len(pieces) - 1} placeholders, {len(values)} values"
        )
    out = pieces[0]
    for value, piece in zip(values, pieces[1:], strict=True):
        out += (value if isinstance(value, str) else json.dumps(value)) + piece
    return out


def render(template: Any, data: Any, where: str, context: dict | None = None) -> Any:
    """Parameters / ResultSelector / ItemSelector: every "key.$" replaced by its value."""
    context = context or {}
    if isinstance(template, list):
        return [render(item, data, where, context) for item in template]
    if not isinstance(template, dict):
        return template
    rendered = {}
    for key, value in template.items():
        if key.endswith(".$"):
            if value.startswith("States."):
                rendered[key[:-2]] = intrinsic(value, data, f"{where} {key}", context)
            else:
                rendered[key[:-2]] = read_path(data, value, f"{where} {key}", context)
        else:
            rendered[key] = render(value, data, where, context)
    return rendered


_COMPARE = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
_KINDS = {"String": str, "Numeric": (int, float), "Boolean": bool, "Timestamp": str}


def choice_matches(rule: dict, data: Any, where: str, context: dict) -> bool:  # noqa: C901
    if "And" in rule:
        return all(choice_matches(r, data, where, context) for r in rule["And"])
    if "Or" in rule:
        return any(choice_matches(r, data, where, context) for r in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], data, where, context)
    variable = rule["Variable"]
    if "IsPresent" in rule:
        try:
            read_path(data, variable, where, context)
            present = True
        except PathError:
            present = False
        return present == rule["IsPresent"]
    value = read_path(data, variable, f"{where} Variable", context)
    for key, expected in rule.items():
        if key in ("Variable", "Next", "Comment"):
            continue
        if key == "IsNull":
            return (value is None) == expected
        for kind in ("String", "Numeric", "Boolean"):
            if key == f"Is{kind}":
                return isinstance(value, _KINDS[kind]) == expected
        if key == "StringMatches":
            pattern = re.escape(expected).replace(r"\*", ".*")
            return bool(re.fullmatch(pattern, str(value)))
        for kind, python_type in _KINDS.items():
            for name, compare in _COMPARE.items():
                if key == f"{kind}{name}":
                    return isinstance(value, python_type) and compare(value, expected)
                if key == f"{kind}{name}Path":
                    other = read_path(data, expected, f"{where} {key}", context)
                    return isinstance(value, python_type) and compare(value, other)
        raise PathError(f"{where}: Choice operator {key} is not known to tests/fidelity/states.py")
    raise PathError(f"{where}: Choice rule without an operator: {rule}")


TaskRunner = Callable[[str, dict, Any], Any]


def catches(catcher: dict, error: str) -> bool:
    """States.ALL matches every error, States.TaskFailed every one but States.Timeout (the Step
    Functions developer guide, "Error names"); other names match themselves."""
    names = catcher["ErrorEquals"]
    return (
        "States.ALL" in names
        or error in names
        or ("States.TaskFailed" in names and error != "States.Timeout")
    )


@dataclass
class Execution:
    status: str = "RUNNING"
    output: Any = None
    visited: list[tuple[str, Any, Any]] = field(default_factory=list)  # (state, input, output)
    error: str = ""


def execute(  # noqa: C901 - one branch per state type
    definition: dict,
    execution_input: Any,
    run_task: TaskRunner,
    fail_at: str | None = None,
    context: dict | None = None,
    fail_with: str = "States.TaskFailed",
) -> Execution:
    """Run a definition: tasks through `run_task(name, state, effective input)`; `fail_at` makes
    that task fail with `fail_with` (States.TaskFailed; States.Timeout for a task timeout) so its
    Catch path is walked."""
    context = context or {
        "Execution": {"Id": "arn:aws:states:::execution:fidelity:run", "Name": "run"}
    }
    run = Execution()
    name, data = definition["StartAt"], execution_input
    for _ in range(MAX_TRANSITIONS):
        state = definition["States"][name]
        where = f"state {name!r}"
        kind = state["Type"]
        state_input = data
        effective = (
            read_path(data, state.get("InputPath", "$"), f"{where} InputPath", context)
            if state.get("InputPath", "$") is not None
            else {}
        )
        if kind in ("Task", "Pass") and "Parameters" in state:
            effective = render(state["Parameters"], effective, f"{where} Parameters", context)
        next_name = state.get("Next")
        if kind == "Task":
            try:
                if name == fail_at:
                    raise TaskFailure(fail_with, f"failure injected at {name} by tests/fidelity")
                result = run_task(name, state, effective)
            except TaskFailure as failure:
                handler = next(
                    (c for c in state.get("Catch", []) if catches(c, failure.error)), None
                )
                if handler is None:
                    run.status, run.error = "FAILED", failure.error
                    return run
                data = write_path(
                    state_input,
                    handler.get("ResultPath", "$"),
                    {"Error": failure.error, "Cause": failure.cause},
                    f"{where} Catch ResultPath",
                )
                run.visited.append((name, state_input, data))
                name = handler["Next"]
                continue
            if "ResultSelector" in state:
                result = render(state["ResultSelector"], result, f"{where} ResultSelector", context)
            data = write_path(
                state_input, state.get("ResultPath", "$"), result, f"{where} ResultPath"
            )
        elif kind == "Pass":
            result = state.get("Result", effective)
            data = write_path(
                state_input, state.get("ResultPath", "$"), result, f"{where} ResultPath"
            )
        elif kind == "Choice":
            next_name = next(
                (
                    c["Next"]
                    for c in state["Choices"]
                    if choice_matches(c, effective, where, context)
                ),
                state.get("Default"),
            )
            if next_name is None:
                raise PathError(f"{where}: no Choice rule matched and there is no Default")
            data = effective
        elif kind == "Wait":
            for key in ("SecondsPath", "TimestampPath"):
                if key in state:
                    read_path(effective, state[key], f"{where} {key}", context)
            data = effective
        elif kind == "Succeed":
            run.visited.append((name, state_input, effective))
            run.status, run.output = "SUCCEEDED", effective
            return run
        elif kind == "Fail":
            found = {}
            for key in ("ErrorPath", "CausePath"):
                if key in state:
                    # A reference path, or an intrinsic function returning a string.
                    if state[key].startswith("States."):
                        found[key] = intrinsic(state[key], data, f"{where} {key}", context)
                    else:
                        found[key] = read_path(data, state[key], f"{where} {key}", context)
            run.visited.append((name, state_input, None))
            run.status = "FAILED"
            run.error = state.get("Error") or found.get("ErrorPath", "")
            return run
        else:
            raise PathError(
                f"{where}: state type {kind} is not walked by tests/fidelity/states.py yet"
            )
        if "OutputPath" in state and kind != "Choice":
            data = read_path(data, state["OutputPath"], f"{where} OutputPath", context)
        run.visited.append((name, state_input, data))
        if state.get("End"):
            run.status, run.output = "SUCCEEDED", data
            return run
        name = next_name
    raise PathError(f"the execution did not end within {MAX_TRANSITIONS} transitions")
