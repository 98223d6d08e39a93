"""Every recpack command in the synthesized buildspec exists in the recpack installed here."""

from __future__ import annotations

import json
import shlex
import subprocess

from .conftest import VENV_BIN, resources_of_type


def recpack_invocations(template) -> list[list[str]]:
    invocations = []
    for project in resources_of_type(template, "AWS::CodeBuild::Project").values():
        buildspec = json.loads(project["Properties"]["Source"]["BuildSpec"])
        for phase in buildspec["phases"].values():
            for command in phase.get("commands", []):
                words = shlex.split(command)
                invocations += [words[i:] for i, word in enumerate(words) if word == "recpack"]
    return invocations


def test_buildspec_calls_recpack(template):
    assert [words[:2] for words in recpack_invocations(template)] == [["recpack", "pipeline"]]


def test_every_recpack_command_of_the_buildspec_exists(template):
    invocations = recpack_invocations(template)
    assert invocations
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
        missing = sorted(option for option in options if option not in result.stdout)
        assert not missing, f"recpack {subcommand} --help does not mention {missing}"
