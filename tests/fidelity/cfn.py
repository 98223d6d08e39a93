"""A synthesized template bound to a fixed account, region and stack name: intrinsics resolved to the
concrete names and ARNs CloudFormation would produce, and resources found by type and references.

Physical names: a resource's own name property when it sets one, else a stable made-up name in
CloudFormation's `<stack>-<logical id>-<suffix>` style. Nothing here knows a logical id of ours.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME_SUFFIX = "FIDELITY1"

# Ref and Fn::GetAtt per resource type, as the CloudFormation resource reference documents them.
# ARN-valued attributes take (template, physical name); add a row when the template gains a type.
_ArnOf = Callable[["Template", str], str]


def _arn(service: str, resource: str, region: bool = True, account: bool = True) -> _ArnOf:
    def build(template: Template, name: str) -> str:
        return (
            f"arn:{template.partition}:{service}:{template.region if region else ''}:"
            f"{template.account if account else ''}:{resource.format(name=name)}"
        )

    return build


REFERENCES: dict[str, dict[str, Any]] = {
    "AWS::S3::Bucket": {
        "Ref": "name",
        "Arn": _arn("s3", "{name}", region=False, account=False),
        "DomainName": lambda t, n: f"{n}.s3.amazonaws.com",
        "RegionalDomainName": lambda t, n: f"{n}.s3.{t.region}.amazonaws.com",
    },
    "AWS::IAM::Role": {"Ref": "name", "Arn": _arn("iam", "role/{name}", region=False)},
    "AWS::IAM::Policy": {"Ref": "name"},
    "AWS::IAM::ManagedPolicy": {"Ref": _arn("iam", "policy/{name}", region=False)},
    "AWS::Lambda::Function": {"Ref": "name", "Arn": _arn("lambda", "function:{name}")},
    "AWS::Logs::LogGroup": {"Ref": "name", "Arn": _arn("logs", "log-group:{name}:*")},
    "AWS::CodeBuild::Project": {"Ref": "name", "Arn": _arn("codebuild", "project/{name}")},
    "AWS::StepFunctions::StateMachine": {
        "Ref": _arn("states", "stateMachine:{name}"),
        "Arn": _arn("states", "stateMachine:{name}"),
        "Name": "name",
    },
    "AWS::Events::Rule": {"Ref": "name", "Arn": _arn("events", "rule/{name}")},
    "AWS::CloudWatch::Dashboard": {"Ref": "name"},
    "AWS::SNS::Topic": {
        "Ref": _arn("sns", "{name}"),
        "TopicArn": _arn("sns", "{name}"),
        "TopicName": "name",
    },
    "AWS::SQS::Queue": {"Arn": _arn("sqs", "{name}"), "QueueName": "name"},
    "AWS::KMS::Key": {"Ref": "name", "Arn": _arn("kms", "key/{name}"), "KeyId": "name"},
    "AWS::S3::BucketPolicy": {"Ref": "name"},
}
# The property that names a resource when the template sets it.
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::Policy": "PolicyName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Events::Rule": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
}


class TemplateError(Exception):
    """The template uses something this resolver does not know; the message says what to add."""


@dataclass
class Template:
    body: dict[str, Any]
    account: str = "123456789012"
    region: str = "us-east-1"
    stack_name: str = "BirdsWorkshop"
    partition: str = "aws"
    path: Path | None = None
    # Values custom resources return (logical id -> attribute -> value), when a test knows them.
    custom_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, **environment: str) -> Template:
        return cls(json.loads(Path(path).read_text()), path=Path(path), **environment)

    def copy(self) -> Template:
        return Template(
            copy.deepcopy(self.body),
            self.account,
            self.region,
            self.stack_name,
            self.partition,
            self.path,
            copy.deepcopy(self.custom_data),
        )

    # -- lookup -------------------------------------------------------------------------------------
    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def custom_resources(self) -> dict[str, dict[str, Any]]:
        return {
            k: v
            for k, v in self.resources.items()
            if v["Type"].startswith("Custom::")
            or v["Type"] == "AWS::CloudFormation::CustomResource"
        }

    def referenced_logical_id(self, value: Any) -> str | None:
        """The logical id a `Ref` or `Fn::GetAtt` points at (None for anything else)."""
        if isinstance(value, dict) and len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" and argument in self.resources:
                return argument
            if name == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) else argument.split(".")[0]
                return target if target in self.resources else None
        return None

    def references_to(self, logical_id: str) -> Iterator[tuple[str, Any]]:
        """(logical id, resource) of every resource whose properties mention `logical_id`."""
        needle = re.compile(
            rf'"(Ref|Fn::GetAtt)": (\["{re.escape(logical_id)}"|"{re.escape(logical_id)}")'
        )
        for other, resource in self.resources.items():
            if needle.search(json.dumps(resource.get("Properties", {}))):
                yield other, resource

    # -- names --------------------------------------------------------------------------------------
    def physical_name(self, logical_id: str) -> str:
        if logical_id in self.names:
            return self.names[logical_id]
        resource = self.resources[logical_id]
        kind = resource["Type"]
        explicit = resource.get("Properties", {}).get(NAME_PROPERTIES.get(kind, ""))
        if explicit is not None:
            name = str(self.resolve(explicit))
        else:
            stem = re.sub(r"[0-9A-F]{8}$", "", logical_id)
            name = f"{self.stack_name}-{stem}"[:50] + f"-{NAME_SUFFIX}"
            if kind == "AWS::S3::Bucket":
                name = name.lower()
        self.names[logical_id] = name
        return name

    def arn_of(self, logical_id: str) -> str:
        return self._attribute(logical_id, "Arn")

    def ref(self, logical_id: str) -> str:
        return self._attribute(logical_id, "Ref")

    def _attribute(self, logical_id: str, attribute: str) -> str:
        resource = self.resources[logical_id]
        kind = resource["Type"]
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            if attribute == "Ref":
                return self.custom_data.get(logical_id, {}).get(
                    "PhysicalResourceId", f"{logical_id}-physical-id"
                )
            return self.custom_data.get(logical_id, {}).get(
                attribute, f"<{logical_id}.{attribute}>"
            )
        rule = REFERENCES.get(kind, {}).get(attribute)
        if rule is None:
            raise TemplateError(
                f"tests/fidelity/cfn.py knows no {attribute} of {kind}: add it to REFERENCES"
            )
        name = self.physical_name(logical_id)
        return name if rule == "name" else rule(self, name)

    # -- intrinsic functions ------------------------------------------------------------------------
    @property
    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:"
            f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000",
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name.startswith("Fn::") or name == "Condition":
                return self._function(name, argument)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:  # noqa: C901 - one branch per function
        if name == "Ref":
            return self._ref(argument)
        if name == "Fn::GetAtt":
            target, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._attribute(target, self.resolve(attribute))
        if name == "Fn::Join":
            separator, parts = argument
            return separator.join(str(p) for p in self.resolve(parts))
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            variables = self.resolve(variables)
            return re.sub(
                r"\$\{([^}!]+)\}",
                lambda m: str(variables.get(m.group(1), None) or self._sub_name(m.group(1))),
                text,
            )
        if name == "Fn::FindInMap":
            mapping, first, second = (self.resolve(a) for a in argument)
            try:
                return self.body["Mappings"][mapping][first][second]
            except KeyError:
                raise TemplateError(
                    f"Fn::FindInMap {mapping}/{first}/{second}: no such entry"
                ) from None
        if name == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if name == "Fn::Split":
            separator, text = self.resolve(argument)
            return text.split(separator)
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name in ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition"):
            return self._condition_function(name, argument)
        if name == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        raise TemplateError(
            f"tests/fidelity/cfn.py cannot resolve {name}: add it to Template._function"
        )

    def _sub_name(self, name: str) -> str:
        if "." in name:
            target, attribute = name.split(".", 1)
            return self._attribute(target, attribute)
        return self._ref(name)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        parameters = self.body.get("Parameters", {})
        if name in parameters:
            parameter = parameters[name]
            if parameter["Type"].startswith("AWS::SSM::Parameter::Value"):
                return f"<value of SSM parameter {parameter.get('Default')}>"
            return parameter.get("Default")
        if name in self.resources:
            return self.ref(name)
        raise TemplateError(f"Ref {name}: no such parameter, pseudo parameter or resource")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.body.get("Conditions", {})[name]))

    def _condition_function(self, name: str, argument: Any) -> bool:
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return left == right
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        values = [bool(self.resolve(a)) for a in argument]
        return all(values) if name == "Fn::And" else any(values)

    def included(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false in this account and region."""
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    # -- the state machine --------------------------------------------------------------------------
    def state_machine_definitions(self) -> dict[str, dict[str, Any]]:
        """logical id -> the definition Step Functions receives, every intrinsic resolved."""
        found = {}
        for logical_id, machine in self.of_type("AWS::StepFunctions::StateMachine").items():
            properties = machine["Properties"]
            if "DefinitionString" in properties:
                found[logical_id] = json.loads(self.resolve(properties["DefinitionString"]))
            else:
                found[logical_id] = self.resolve(properties["Definition"])
        return found


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()
