"""Session fixtures: the synthesized templates, one emulator, every flow run once per template,
and every call evaluated once. Tests that mutate a template re-evaluate only its requests."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from .actions import Environment, Request, authorizations
from .cfn import Template
from .flows import Emulator, Workshop, run_flows
from .simulate import Decision, PolicySet, evaluate

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ENVIRONMENT = {"account": "123456789012", "region": "us-east-1"}
MULTI_ACCOUNTS = [
    {"account": "111111111111", "region": "eu-west-1"},
    {"account": "222222222222", "region": "us-west-2"},
]
# Each synth the harness checks: a name and its context overrides on top of cdk.json.
VARIANTS = {
    "default": {},
    "multi-account": {"workshop.accounts": json.dumps(MULTI_ACCOUNTS)},
    "quota-increase": {"workshop.training.requestQuotaIncrease": "true"},
    # Notifications, the budget, spot with checkpoints, two instances, training after packaging.
    "every-feature": {
        "workshop.notificationEmails": json.dumps(["ana@example.com"]),
        "workshop.budgetMonthlyUsd": "50",
        "workshop.training.spot": "true",
        "workshop.training.instanceCount": "2",
        "workshop.training.hyperparameters.kv_store": "dist_sync",
        "workshop.training.startAfterPackaging": "true",
    },
}


def synthesize(outdir: Path, overrides: dict[str, str]) -> list[tuple[Path, Template]]:
    """The app as `cdk synth` builds it; (assembly folder, template) per stack, environment bound."""
    from stacks.app import create_app

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    app = create_app({**context, **overrides}, outdir=str(outdir))
    assembly = app.synth()
    found = []
    for stack in assembly.stacks:
        environment = dict(DEFAULT_ENVIRONMENT)
        if not stack.environment.account.startswith("unknown"):
            environment = {"account": stack.environment.account, "region": stack.environment.region}
        template = Template.load(
            outdir / stack.template_file, stack_name=stack.stack_name, **environment
        )
        found.append((outdir, template))
    return found


@dataclass
class Checked:
    """One template's flows and every decision about their calls."""

    name: str
    workshop: Workshop
    policies: PolicySet
    requests: list[Request]
    decisions: list[Decision]

    @property
    def template(self) -> Template:
        return self.workshop.template


def requests_of(workshop: Workshop) -> list[Request]:
    template = workshop.template
    environment = Environment(template.account, template.region)
    return [r for call in workshop.calls for r in authorizations(call, environment)]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> dict[str, list[tuple[Path, Template]]]:
    return {
        name: synthesize(tmp_path_factory.mktemp(f"synth-{name}"), overrides)
        for name, overrides in VARIANTS.items()
    }


@pytest.fixture(scope="session")
def emulator():
    with Emulator() as running:
        yield running


@pytest.fixture(scope="session")
def checked(synthesized, emulator, tmp_path_factory) -> dict[str, Checked]:
    """Every flow on every synthesized stack (the emulator reset between stacks), evaluated."""
    results = {}
    for variant, stacks in synthesized.items():
        for assembly, template in stacks:
            name = f"{variant}:{template.account}/{template.region}"
            emulator.reset()
            workshop = Workshop(template, assembly, emulator, tmp_path_factory.mktemp("flows"))
            run_flows(workshop)
            policies = PolicySet.of(template)
            requests = requests_of(workshop)
            results[name] = Checked(
                name, workshop, policies, requests, evaluate(policies, requests)
            )
    return results


@pytest.fixture(scope="session")
def default(checked) -> Checked:
    return next(c for name, c in checked.items() if name.startswith("default:"))
