"""Which role each component of the stack acts with, and every policy that applies to its calls.

A component is found by what uses its role (a Lambda function by its handler, the CodeBuild project,
the state machine, an EventBridge target, the role the state machine passes to SageMaker, the
function behind a custom resource type), never by logical id. Every role of the template must be
one component: a new role without a rule here fails `test_every_role_is_a_known_component`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from stacks.seat import SEAT_TAG

from .cfn import Template

# AWS managed policies our templates attach (CDK's own handlers do), as AWS publishes them:
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    }
}

# The CDK's handler behind each custom resource type it adds (named by what it does).
CDK_HANDLERS = {
    "Custom::S3AutoDeleteObjects": "CDK auto-delete-objects handler",
    "Custom::S3BucketNotifications": "CDK bucket-notifications handler",
}


@dataclass
class Policy:
    """One policy document as evaluated: its origin (for messages) and the resolved document."""

    name: str
    document: dict[str, Any]


@dataclass
class Component:
    name: str
    role_logical_id: str
    role_name: str
    role_arn: str
    account: str
    trusted_services: list[str]
    policies: list[Policy] = field(default_factory=list)
    boundary: Policy | None = None

    @property
    def principal(self) -> str:
        """The session ARN a service or function acting with the role has."""
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/fidelity-session"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def component_names(template: Template) -> dict[str, str]:  # noqa: C901 - one rule per kind of user
    """role logical id -> component name."""
    names: dict[str, str] = {}

    def name(role_value: Any, label: str) -> None:
        role = template.referenced_logical_id(role_value)
        if role is None:
            return
        if role in names and names[role] != label:
            raise AssertionError(f"role {role} is used by both {names[role]!r} and {label!r}")
        names[role] = label

    functions = template.of_type("AWS::Lambda::Function")
    behind_custom = {}
    for resource in template.custom_resources().values():
        function = template.referenced_logical_id(resource["Properties"]["ServiceToken"])
        if function in functions:
            behind_custom[function] = resource["Type"]
    for logical_id, function in functions.items():
        properties = function["Properties"]
        handler = properties.get("Handler", "")
        if handler.startswith("workshop_runtime."):
            label = f"{handler.split('.')[1]} function"
        elif handler == "framework.onEvent":
            user = template.referenced_logical_id(
                properties["Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"]
            )
            user_handler = functions[user]["Properties"]["Handler"].split(".")[1]
            label = f"{user_handler} provider framework"
        elif logical_id in behind_custom:
            label = CDK_HANDLERS.get(
                behind_custom[logical_id], f"{behind_custom[logical_id]} handler"
            )
        else:
            raise AssertionError(f"Lambda function {logical_id} ({handler}) has no component rule")
        name(properties["Role"], label)
    for project in template.of_type("AWS::CodeBuild::Project").values():
        name(project["Properties"]["ServiceRole"], "packaging build")
    for machine in template.of_type("AWS::StepFunctions::StateMachine").values():
        name(machine["Properties"]["RoleArn"], "state machine")
    for rule in template.of_type("AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            if "RoleArn" in target:
                kind = template.resources[template.referenced_logical_id(target["Arn"])]["Type"]
                name(target["RoleArn"], f"EventBridge rule role ({kind.split('::')[1]} target)")
    for definition in template.state_machine_definitions().values():
        for state in states(definition):
            role_arn = state.get("Parameters", {}).get("RoleArn")
            if role_arn:
                for logical_id in template.of_type("AWS::IAM::Role"):
                    if template.arn_of(logical_id) == role_arn:
                        names[logical_id] = "training execution (SageMaker)"
    for logical_id, role in template.of_type("AWS::IAM::Role").items():
        trusted = [
            statement.get("Principal", {}).get("AWS")
            for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        ]
        # A person in the account assumes it (a seat's student), no service does.
        if logical_id not in names and any(trusted):
            names[logical_id] = "student role"
    # A stack with seats has each of these once per seat: the seat's tag names them apart.
    for logical_id in list(names):
        tags = template.resources[logical_id]["Properties"].get("Tags", [])
        seat = [tag["Value"] for tag in tags if tag["Key"] == SEAT_TAG]
        if seat:
            names[logical_id] = f"seat {seat[0]} {names[logical_id]}"
    return names


def states(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every state, inside Parallel branches and Map iterators too."""
    found = []
    for state in definition.get("States", {}).values():
        found.append(state)
        for branch in state.get("Branches", []):
            found.extend(states(branch))
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found.extend(states(state[key]))
    return found


def components(template: Template) -> dict[str, Component]:
    """component name -> its role and every identity policy attached to it, resolved."""
    names = component_names(template)
    unnamed = sorted(set(template.of_type("AWS::IAM::Role")) - set(names))
    if unnamed:
        raise AssertionError(
            f"roles with no component rule in tests/fidelity/components.py: {unnamed}"
        )
    found: dict[str, Component] = {}
    for role_id, label in names.items():
        role = template.resources[role_id]["Properties"]
        trusted = [
            service
            for statement in role["AssumeRolePolicyDocument"]["Statement"]
            for service in _as_list(statement.get("Principal", {}).get("Service", []))
        ]
        component = Component(
            label,
            role_id,
            template.physical_name(role_id),
            template.arn_of(role_id),
            template.account,
            trusted,
        )
        for number, inline in enumerate(role.get("Policies", [])):
            component.policies.append(
                Policy(
                    f"{label}: role inline policy {inline.get('PolicyName', number)}",
                    template.resolve(inline["PolicyDocument"]),
                )
            )
        for arn in template.resolve(role.get("ManagedPolicyArns", [])):
            component.policies.append(
                Policy(f"{label}: managed {arn}", managed_policy(template, arn))
            )
        if "PermissionsBoundary" in role:
            arn = template.resolve(role["PermissionsBoundary"])
            component.boundary = Policy(f"{label}: boundary {arn}", managed_policy(template, arn))
        found[label] = component
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical_id, policy in template.of_type(kind).items():
            properties = policy["Properties"]
            for role in properties.get("Roles", []):
                role_id = template.referenced_logical_id(role)
                if role_id in names:
                    found[names[role_id]].policies.append(
                        Policy(
                            f"{names[role_id]}: policy {logical_id}",
                            template.resolve(properties["PolicyDocument"]),
                        )
                    )
    return found


def managed_policy(template: Template, arn: str) -> dict[str, Any]:
    own = {
        template.ref(logical_id): policy
        for logical_id, policy in template.of_type("AWS::IAM::ManagedPolicy").items()
    }
    if arn in own:
        return template.resolve(own[arn]["Properties"]["PolicyDocument"])
    aws_prefix = f"arn:{template.partition}:iam::aws:policy/"
    if arn.startswith(aws_prefix) and arn[len(aws_prefix) :] in MANAGED_POLICIES:
        return copy.deepcopy(MANAGED_POLICIES[arn[len(aws_prefix) :]])
    raise AssertionError(
        f"managed policy {arn} is attached but its document is not in "
        "tests/fidelity/components.py MANAGED_POLICIES: add it from the AWS managed policy reference"
    )


def resource_policies(template: Template) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, ARN pattern it governs, document) for every resource policy of the template."""
    found = []
    for logical_id, policy in template.of_type("AWS::S3::BucketPolicy").items():
        bucket = template.resolve(policy["Properties"]["Bucket"])
        document = template.resolve(policy["Properties"]["PolicyDocument"])
        found.append((f"bucket policy {logical_id}", f"arn:aws:s3:::{bucket}", document))
        found.append((f"bucket policy {logical_id}", f"arn:aws:s3:::{bucket}/*", document))
    for logical_id, policy in template.of_type("AWS::SNS::TopicPolicy").items():
        document = template.resolve(policy["Properties"]["PolicyDocument"])
        for topic in template.resolve(policy["Properties"]["Topics"]):
            found.append((f"topic policy {logical_id}", topic, document))
    # A KMS key is usable only as far as its key policy lets IAM policies decide.
    for logical_id, key in template.of_type("AWS::KMS::Key").items():
        document = template.resolve(key["Properties"]["KeyPolicy"])
        found.append((f"key policy {logical_id}", template.arn_of(logical_id), document))
    return found
