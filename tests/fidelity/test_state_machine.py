"""Every synthesized state machine is valid Amazon States Language, and every JSONPath its states
read exists in what the state before really produced (walked with real task results)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import botocore.session
import pytest

from .components import states
from .states import PathError, TaskFailure, execute

HERE = Path(__file__).resolve().parent
# Result of each .sync integration: the output shape of the call Step Functions polls.
SYNC_RESULTS = {"sagemaker:createTrainingJob.sync": ("sagemaker", "DescribeTrainingJob")}


def validate(definitions: dict[str, dict]) -> dict[str, list[dict]]:
    completed = subprocess.run(
        ["node", str(HERE / "asl_validate.mjs")],
        input=json.dumps({name: json.dumps(d, indent=2) for name, d in definitions.items()}),
        capture_output=True,
        text=True,
        cwd=HERE.parents[1],
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def all_definitions(checked) -> dict[str, dict]:
    return {
        f"{name}/{logical_id}": definition
        for name, result in checked.items()
        for logical_id, definition in result.template.state_machine_definitions().items()
    }


def test_every_definition_passes_aws_states_language_validation(checked):
    definitions = all_definitions(checked)
    assert len(definitions) >= 4
    problems = [
        f"{name}:{d['line']}:{d['character']}: {d['message']}"
        for name, diagnostics in validate(definitions).items()
        for d in diagnostics
    ]
    assert not problems, "\n".join(problems)


def test_the_validator_rejects_a_broken_definition(default):
    (definition,) = default.template.state_machine_definitions().values()
    broken = json.loads(json.dumps(definition))
    first = broken["StartAt"]
    broken["States"][first]["Next"] = "NoSuchState"
    messages = [d["message"] for d in validate({"broken": broken})["broken"]]
    assert any('"Next"' in m for m in messages), messages


def test_every_state_is_walked_by_the_flows(checked):
    for result in checked.values():
        visited = {name for run in result.workshop.executions for name, *_ in run.visited}
        for definition in result.template.state_machine_definitions().values():
            missing = set(definition["States"]) - visited
            assert not missing, f"{result.name}: states never walked: {sorted(missing)}"


def _shape_has(shape, path: str) -> bool:
    for part in path.lstrip("$").strip(".").split("."):
        if not part:
            continue
        if shape.type_name != "structure" or part not in shape.members:
            return False
        shape = shape.members[part]
    return True


def test_sync_result_selectors_read_fields_the_service_returns(checked):
    """ResultSelector paths exist in the API's response shape, not only in the emulator's answer."""
    session = botocore.session.get_session()
    for result in checked.values():
        for definition in result.template.state_machine_definitions().values():
            for state in states(definition):
                resource = state.get("Resource", "")
                integration = resource.split(":::")[-1]
                if integration not in SYNC_RESULTS:
                    continue
                service, operation = SYNC_RESULTS[integration]
                output = session.get_service_model(service).operation_model(operation).output_shape
                for key, path in state.get("ResultSelector", {}).items():
                    if key.endswith(".$"):
                        assert _shape_has(output, path), f"{integration} result has no {path}"


def replay(result):
    """A task runner answering each task with what it returned in the flows."""
    answers = {name: list(values) for name, values in result.workshop.task_results.items()}

    def run(name, state, payload):
        if not answers.get(name):
            raise TaskFailure("States.TaskFailed", f"no recorded result for {name}")
        return answers[name][0]

    return run


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("$.run.job.instanceType", "$.run.job.instance_type"),
        ("$.prepare.hyperParameters", "$.prepare.hyperparameters"),
        ("$.TrainingJobStatus", "$.TrainingStatus"),
        ("$.failure.Cause", "$.error.Cause"),
    ],
)
def test_a_path_to_a_field_no_state_produces_fails_the_walk(default, old, new):
    (definition,) = default.template.state_machine_definitions().values()
    text = json.dumps(definition)
    assert old in text, old
    mutated = json.loads(text.replace(json.dumps(old), json.dumps(new)))
    failing_state = next(n for n, s in definition["States"].items() if s.get("Catch"))
    with pytest.raises(
        PathError, match=new.replace("$", r"\$").replace(".", r"\.").split(r"\.")[-1]
    ):
        execute(mutated, {"hyperparameters": {"epochs": 2}}, replay(default))
        execute(mutated, {}, replay(default), fail_at=failing_state)
