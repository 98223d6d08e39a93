"""Reading the synthesized template: resolve the CloudFormation functions the demo meets, and render
the state machine's task parameters from a state, as Step Functions would."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STACK = "BirdsWorkshop"


class Template:
    def __init__(
        self,
        path: Path,
        physical_ids: Mapping[str, str],
        region: str = "us-east-1",
        account: str = "123456789012",
        body: Mapping[str, Any] | None = None,
    ):
        self.path = path
        self.body = dict(body) if body is not None else json.loads(Path(path).read_text())
        self.physical_ids = dict(physical_ids)  # logical id -> name/ARN in the emulator
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK,
        }

    # -- lookup -------------------------------------------------------------------------------------
    def resources(self, resource_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.body["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str, logical_prefix: str = "") -> tuple[str, dict]:
        found = {
            k: v for k, v in self.resources(resource_type).items() if k.startswith(logical_prefix)
        }
        if len(found) != 1:
            raise LookupError(
                f"expected one {resource_type} starting {logical_prefix!r}, found {sorted(found)}"
            )
        return next(iter(found.items()))

    # -- intrinsic functions ------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self._ref(argument)
            if name == "Fn::GetAtt":
                return self._ref(
                    argument[0] if isinstance(argument, list) else argument.split(".")[0]
                )
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(p)) for p in parts)
            if name == "Fn::FindInMap":
                mapping, first, second = (self.resolve(a) for a in argument)
                return self.body["Mappings"][mapping][first][second]
            if name == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._ref(m.group(1))), text)
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise KeyError(f"the demo has no emulator resource for {name!r}; add it to physical_ids")

    # -- what the demo needs ------------------------------------------------------------------------
    def buildspec(self) -> dict:
        _, project = self.one("AWS::CodeBuild::Project", "PackagingBuild")
        return json.loads(project["Properties"]["Source"]["BuildSpec"])

    def build_source_asset(self) -> str:
        """The asset hash of the build's source zip (cdk.out/asset.<hash> holds its files)."""
        _, project = self.one("AWS::CodeBuild::Project", "PackagingBuild")
        location = json.dumps(project["Properties"]["Source"]["Location"])
        return re.search(r"([0-9a-f]{64})\.zip", location).group(1)

    def build_environment(self) -> dict[str, str]:
        _, project = self.one("AWS::CodeBuild::Project", "PackagingBuild")
        return {
            v["Name"]: str(self.resolve(v["Value"]))
            for v in project["Properties"]["Environment"]["EnvironmentVariables"]
        }

    def build_rule(self) -> dict:
        _, rule = self.one("AWS::Events::Rule", "PackagingBuild")
        return rule["Properties"]

    def build_event_pattern(self) -> dict:
        return self.resolve(self.build_rule()["EventPattern"])

    def build_target_input(self, event: Mapping) -> dict:
        """What the rule's target sends to CodeBuild for `event`: its InputTransformer applied as
        EventBridge does (each <name> in the JSON template becomes the JSON value at its path)."""
        target = self.build_rule()["Targets"][0]
        if "Input" in target:
            return json.loads(target["Input"])
        transformer = target["InputTransformer"]
        values = {
            name: json_path(event, path)
            for name, path in transformer.get("InputPathsMap", {}).items()
        }
        text = re.sub(
            r"<([A-Za-z0-9_.-]+)>",
            lambda m: json.dumps(values[m.group(1)]),
            transformer["InputTemplate"],
        )
        return json.loads(text)

    def function_environment(self, logical_prefix: str) -> dict[str, str]:
        _, function = self.one("AWS::Lambda::Function", logical_prefix)
        return {
            k: str(v)
            for k, v in self.resolve(function["Properties"]["Environment"]["Variables"]).items()
        }

    def state_machine_definition(self) -> dict:
        _, machine = self.one("AWS::StepFunctions::StateMachine")
        return json.loads(self.resolve(machine["Properties"]["DefinitionString"]))


def json_path(state: Any, path: str) -> Any:
    """A `$.a.b` reference in a state (the only form the definition uses)."""
    if not path.startswith("$"):
        raise ValueError(f"not a JsonPath: {path!r}")
    value = state
    for part in filter(None, path[1:].split(".")):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(f"{path}: {part!r} is missing from the state")
        value = value[part]
    return value


def render_parameters(parameters: Any, state: Any) -> Any:
    """Task Parameters with every `"Key.$": "$.path"` replaced by the state's value, as Step Functions does."""
    if isinstance(parameters, list):
        return [render_parameters(p, state) for p in parameters]
    if not isinstance(parameters, dict):
        return parameters
    rendered = {}
    for key, value in parameters.items():
        if key.endswith(".$"):
            rendered[key[:-2]] = json_path(state, value)
        else:
            rendered[key] = render_parameters(value, state)
    return rendered


def path_references(parameters: Any) -> list[str]:
    """Every JsonPath the parameters read."""
    if isinstance(parameters, list):
        return [p for item in parameters for p in path_references(item)]
    if not isinstance(parameters, dict):
        return []
    found = []
    for key, value in parameters.items():
        if key.endswith(".$"):
            found.append(value)
        else:
            found.extend(path_references(value))
    return found
