"""Every recpack command in the build's buildspec exists in the recpack installed here."""

from __future__ import annotations

import json
import shlex
import subprocess

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.packaging_build import Layout, PackagingBuild, PipelineOptions

from ..conftest import VENV_BIN, bare_stack, resources_of_type


@pytest.fixture(scope="module")
def invocations() -> list[list[str]]:
    stack = bare_stack()
    PackagingBuild(
        stack,
        "PackagingBuild",
        bucket_name="workshop-bucket",
        layout=Layout(
            raw_prefix="raw/",
            train_prefix="train/",
            validation_prefix="validation/",
            manifest_key="manifest.json",
        ),
        # Every option the build can pass, the class subset included.
        options=PipelineOptions(train_ratio=0.75, resize=256, quality=95, classes=("0752",)),
        timeout=cdk.Duration.minutes(60),
        log_retention_days=30,
    )
    template = Template.from_stack(stack).to_json()
    found = []
    for project in resources_of_type(template, "AWS::CodeBuild::Project").values():
        buildspec = json.loads(project["Properties"]["Source"]["BuildSpec"])
        for phase in buildspec["phases"].values():
            for command in phase.get("commands", []):
                words = shlex.split(command)
                found += [words[i:] for i, word in enumerate(words) if word == "recpack"]
    return found


def test_buildspec_calls_recpack(invocations):
    assert [words[:2] for words in invocations] == [["recpack", "pipeline"]]


def test_every_recpack_command_of_the_buildspec_exists(invocations):
    for subcommand in sorted({words[1] for words in invocations}):
        result = subprocess.run(
            [str(VENV_BIN / "recpack"), subcommand, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"recpack {subcommand} --help: {result.stderr}"
        # Every option the buildspec passes is one the subcommand documents.
        options = {
            word
            for words in invocations
            if words[1] == subcommand
            for word in words
            if word.startswith("--")
        }
        assert "--classes" in options
        missing = sorted(option for option in options if option not in result.stdout)
        assert not missing, f"recpack {subcommand} --help does not mention {missing}"
