"""Snapshots of every synthesized template, asset hashes scrubbed (`pytest --snapshot-update` to accept)."""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from .conftest import ASSET_HASH, DEFAULT_STACK

SYNTH_TIME = re.compile(r'("SynthesizedAt": )"[0-9TZ:-]+"')


def scrubbed(template: dict) -> dict:
    """Asset hashes change with any edit to packaging/ or the Lambda code; the structure is what counts."""
    text = ASSET_HASH.sub("<asset-hash>", json.dumps(template))
    # New on every synth, so that every deploy runs the quota preflight again.
    text = SYNTH_TIME.sub(r'\1"<synth-time>"', text)
    template = json.loads(text)
    # The CLI's analytics metadata encodes the CDK version, not this app.
    template["Resources"].pop("CDKMetadata", None)
    template.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if not template.get("Conditions", True):
        del template["Conditions"]
    return template


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_default_stack_template(cli_assembly, json_snapshot):
    assert scrubbed(cli_assembly.template(DEFAULT_STACK)) == json_snapshot


def test_environment_stack_templates(multi_account_app, json_snapshot):
    _, assembly = multi_account_app
    templates = {stack.id: scrubbed(stack.template) for stack in assembly.stacks}
    assert sorted(templates) == [
        "BirdsWorkshop-111111111111-eu-west-1",
        "BirdsWorkshop-222222222222-us-west-2",
    ]
    assert templates == json_snapshot


def test_workshop_template(workshop_bundle, json_snapshot):
    assert scrubbed(workshop_bundle.template) == json_snapshot
