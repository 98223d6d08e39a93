"""Shared fixtures for the CDK tests.

Each construct is tested on a bare stack (`bare_stack()`, aws_cdk.assertions); the whole app is
synthesized once per session for the gates: `cli_assembly` runs the real `npx cdk synth` (what
`make synth` runs) offline with no credentials; `multi_account_app` builds the app in Python with
two accounts, for environment-specific checks and for cdk-nag's validate_scope.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
DEFAULT_STACK = "BirdsWorkshop"
MULTI_ACCOUNTS = [
    {"account": "111111111111", "region": "eu-west-1"},
    {"account": "222222222222", "region": "us-west-2"},
]
ASSET_HASH = re.compile(r"[0-9a-f]{64}")
# The training-day features all on: topic, budget, spot, two instances, training after packaging.
EVERY_FEATURE = {
    "workshop.notificationEmails": '["ana@example.com", "bo@school.edu"]',
    "workshop.budgetMonthlyUsd": "40",
    "workshop.training.spot": "true",
    "workshop.training.startAfterPackaging": "true",
    "workshop.training.instanceCount": "2",
    "workshop.training.hyperparameters.kv_store": "dist_sync",
}


def cdk_json_context() -> dict[str, Any]:
    return json.loads((REPO / "cdk.json").read_text())["context"]


def offline_environment() -> dict[str, str]:
    """No AWS credentials, config or instance metadata: synth must not need any."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    environment.update(
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return environment


def run_cdk(*arguments: str, cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["npx", "--no-install", "cdk", *arguments, "--no-notices"],
        cwd=cwd,
        env=offline_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Assembly:
    directory: Path
    manifest: dict[str, Any]

    def template(self, stack: str) -> dict[str, Any]:
        return json.loads((self.directory / f"{stack}.template.json").read_text())

    def template_paths(self) -> list[Path]:
        return sorted(self.directory.glob("*.template.json"))


@pytest.fixture(scope="session")
def cli_assembly(tmp_path_factory) -> Assembly:
    if shutil.which("npx") is None:
        pytest.fail("npx is required: `make setup` installs the pinned CDK CLI")
    outdir = tmp_path_factory.mktemp("cdk.out")
    result = run_cdk("synth", "--quiet", "--output", str(outdir))
    assert result.returncode == 0, result.stderr[-4000:]
    manifest = json.loads((outdir / "manifest.json").read_text())
    return Assembly(outdir, manifest)


@pytest.fixture(scope="session")
def template(cli_assembly) -> dict[str, Any]:
    return cli_assembly.template(DEFAULT_STACK)


@pytest.fixture(scope="session")
def multi_account_app(tmp_path_factory):
    from stacks.app import create_app

    context = {**cdk_json_context(), "workshop.accounts": json.dumps(MULTI_ACCOUNTS)}
    app = create_app(context, outdir=str(tmp_path_factory.mktemp("multi.out")))
    assembly = app.synth()
    return app, assembly


def bare_stack(**kwargs: Any) -> cdk.Stack:
    """An empty stack in its own app, for one construct under test."""
    return cdk.Stack(cdk.App(), "Test", **kwargs)


def pass_state_machine(stack: cdk.Stack) -> sfn.StateMachine:
    """A state machine ("Machine") that does nothing, for constructs that refer to one."""
    return sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Nothing")),
    )


def open_findings(scope: IConstruct) -> list[str]:
    """cdk-nag AwsSolutions findings in the tree under `scope` that nothing acknowledges."""
    report = AwsSolutionsChecks().validate_scope(scope)
    return [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def acknowledgments(scope: IConstruct) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every cdk-nag acknowledgment under `scope`."""
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in entry.data.items():
                    found.append(
                        (construct.node.path, rule_id.removeprefix("Annotation::"), reason)
                    )
    return found


def has_statement(template: Template, policy_name: str, statement: dict[str, Any]) -> None:
    """An AWS::IAM::Policy whose name matches `policy_name` (a regexp) holds the statement."""
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyName": Match.string_like_regexp(policy_name),
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_equals({"Effect": "Allow", **statement})]
                )
            },
        },
    )


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def render(value: Any) -> Any:
    """Intrinsics as readable placeholders: Ref X -> <X>, GetAtt -> <X.Attr>, Fn::Join joined."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return f"<{value['Ref']}>"
    if set(value) == {"Fn::GetAtt"}:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(render(part)) for part in parts)
    if set(value) == {"Fn::FindInMap"}:
        mapping, key, attribute = (render(part) for part in value["Fn::FindInMap"])
        return f"<{mapping}[{key}].{attribute}>"
    return {key: render(item) for key, item in value.items()}


def state_machine_definition(template: dict[str, Any]) -> dict[str, Any]:
    (state_machine,) = resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
    return json.loads(render(state_machine["Properties"]["DefinitionString"]))


def policy_statements(template: dict[str, Any], policy_logical_prefix: str) -> list[dict[str, Any]]:
    """Every statement of the AWS::IAM::Policy resources whose logical id starts with the prefix."""
    statements = []
    for logical_id, policy in resources_of_type(template, "AWS::IAM::Policy").items():
        if logical_id.startswith(policy_logical_prefix):
            statements += render(policy["Properties"]["PolicyDocument"]["Statement"])
    assert statements, f"no policy starting with {policy_logical_prefix}"
    return statements


def statement_by_sid(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    (statement,) = [s for s in statements if s.get("Sid") == sid]
    return statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def algorithm_epoch_lines(
    epoch, train, seconds, validation=None, top_k=None, validation_top_k=None
):
    """One epoch as the Image Classification algorithm logs it, progress lines included: the input of
    the Report step's parser and of `make results`."""
    prefix = "[11/21/2026 12:20:42 INFO 140558353856320]"
    lines = [
        f"{prefix} Epoch[{epoch}] Batch [20]\tSpeed: 111.78 samples/sec\taccuracy=0.297619",
        f"{prefix} Epoch[{epoch}] Train-accuracy={train:f}",
    ]
    if top_k is not None:
        lines.append(f"{prefix} Epoch[{epoch}] Train-top_k_accuracy_2={top_k:f}")
    lines.append(f"{prefix} Epoch[{epoch}] Time cost={seconds:.3f}")
    if validation is not None:
        lines.append(f"{prefix} Epoch[{epoch}] Validation-accuracy={validation:f}")
        lines.append(f"{prefix} Storing the best model with validation accuracy: {validation:f}")
    if validation_top_k is not None:
        lines.append(f"{prefix} Epoch[{epoch}] Validation-top_k_accuracy_2={validation_top_k:f}")
    return lines


@dataclass
class WorkshopBundle:
    """`make workshop-template`'s folder and its template."""

    folder: Path
    template_path: Path

    @property
    def template(self) -> dict[str, Any]:
        return json.loads(self.template_path.read_text())


@pytest.fixture(scope="session")
def workshop_bundle(tmp_path_factory) -> WorkshopBundle:
    from stacks.workshop_template.bundle import write_bundle

    folder = tmp_path_factory.mktemp("dist") / "workshop"
    return WorkshopBundle(folder, write_bundle(cdk_json_context(), folder))
