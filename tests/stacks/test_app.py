"""The app: offline synth with no lookups, one environment-agnostic stack or one stack per account."""

from __future__ import annotations

from .conftest import DEFAULT_STACK, MULTI_ACCOUNTS, REPO


def test_offline_synth_needs_no_lookups_and_is_environment_agnostic(cli_assembly):
    manifest = cli_assembly.manifest
    assert "missing" not in manifest  # no context lookups to resolve against an account
    stacks = {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert list(stacks) == [DEFAULT_STACK]
    assert stacks[DEFAULT_STACK]["environment"] == "aws://unknown-account/unknown-region"
    assert not (REPO / "cdk.context.json").exists()


def test_accounts_give_one_stack_per_environment(multi_account_app):
    _, assembly = multi_account_app
    environments = sorted(
        (s.environment.account, s.environment.region, s.stack_name) for s in assembly.stacks
    )
    assert environments == [
        (entry["account"], entry["region"], DEFAULT_STACK) for entry in MULTI_ACCOUNTS
    ]


def test_cdk_json_runs_the_app_and_pins_recommended_flags():
    import json

    cdk_json = json.loads((REPO / "cdk.json").read_text())
    assert cdk_json["app"] == "python3 app.py"
    context = cdk_json["context"]
    # A few of the flags `cdk init` writes; all of them are in cdk.json.
    assert context["@aws-cdk/aws-iam:minimizePolicies"] is True
    assert context["@aws-cdk/aws-s3:publicAccessBlockedByDefault"] is True
    assert context["@aws-cdk/core:enablePartitionLiterals"] is True
    flags = [key for key in context if key.startswith("@aws-cdk")]
    assert len(flags) > 60
