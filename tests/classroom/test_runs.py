"""`classroom deploy` and `destroy` as a user runs them (a subprocess), against a fake `cdk` on PATH
that records what each run got (stack, profile, credentials, start and end): the concurrency bound,
each account's credentials, one synth for all, and a failed account that stops nobody else."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ACCOUNTS = [
    {"account": "111111111111", "region": "eu-west-1", "profile": "class-01"},
    {"account": "222222222222", "region": "us-west-2", "profile": "class-02"},
    {"account": "333333333333", "region": "us-east-1"},
    {"account": "444444444444", "region": "eu-west-1", "profile": "class-04"},
    {"account": "555555555555", "region": "us-east-1", "profile": "class-05"},
]
FAILING = "BirdsWorkshop-222222222222-us-west-2"
AMBIENT_KEY = "AKIAAMBIENTCREDENTIAL"


@pytest.fixture
def fake_cdk(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    target = bin_dir / "cdk"
    shutil.copyfile(Path(__file__).with_name("fake_cdk.py"), target)
    target.chmod(target.stat().st_mode | stat.S_IXUSR)
    return bin_dir, tmp_path / "record.jsonl"


def classroom(
    fake_cdk, tmp_path, *arguments, stdin="", seconds="1", fail=FAILING, accounts=ACCOUNTS
):
    bin_dir, record = fake_cdk
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        PATH=f"{bin_dir}{os.pathsep}{environment['PATH']}",
        FAKE_CDK_RECORD=str(record),
        FAKE_CDK_SECONDS=seconds,
        FAKE_CDK_FAIL=fail,
        AWS_ACCESS_KEY_ID=AMBIENT_KEY,
        AWS_SECRET_ACCESS_KEY="ambient-secret",
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "classroom",
            *arguments,
            "--cdk",
            "cdk",
            "--work",
            str(tmp_path / "work"),
            "-c",
            f"workshop.accounts={json.dumps(accounts)}",
        ],
        cwd=REPO,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    runs = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return completed, runs


def most_at_once(runs):
    intervals = [(r["started"], r["ended"]) for r in runs]
    most = 1
    for start, _ in intervals:
        most = max(most, sum(1 for s, e in intervals if s <= start < e))
    return most


@pytest.fixture
def deployed(fake_cdk, tmp_path):
    return classroom(fake_cdk, tmp_path, "deploy", "--concurrency", "2")


def test_deploy_synthesizes_once_then_deploys_every_account_from_that_assembly(deployed):
    completed, runs = deployed
    synths = [r for r in runs if r["arguments"][0] == "synth"]
    deploys = [r for r in runs if r["arguments"][0] == "deploy"]
    assert len(synths) == 1
    assert synths[0]["ended"] <= min(r["started"] for r in deploys)
    assert "-c" in synths[0]["arguments"]  # the settings given reach the synth
    assembly = synths[0]["arguments"][synths[0]["arguments"].index("--output") + 1]
    for run in deploys:
        assert run["arguments"][run["arguments"].index("--app") + 1] == assembly
        assert "--require-approval" in run["arguments"]
    assert sorted(r["stack"] for r in deploys) == sorted(
        f"BirdsWorkshop-{a['account']}-{a['region']}" for a in ACCOUNTS
    )


def test_deploy_runs_at_most_concurrency_accounts_at_once_and_more_than_one(deployed):
    _, runs = deployed
    deploys = [r for r in runs if r["arguments"][0] == "deploy"]
    assert most_at_once(deploys) == 2


def test_each_account_deploys_with_its_own_profile_and_none_with_ambient_credentials(deployed):
    _, runs = deployed
    by_stack = {r["stack"]: r for r in runs if r["arguments"][0] == "deploy"}
    for account in ACCOUNTS:
        run = by_stack[f"BirdsWorkshop-{account['account']}-{account['region']}"]
        if "profile" in account:
            assert (run["profile"], run["access_key"]) == (account["profile"], None)
        else:  # no profile: the CLI's current credentials
            assert (run["profile"], run["access_key"]) == (None, AMBIENT_KEY)


def test_a_failed_account_is_named_with_its_log_and_stops_no_other(deployed):
    completed, runs = deployed
    assert completed.returncode == 1, completed.stderr
    lines = completed.stdout.splitlines()
    failed = [line for line in lines if "FAILED" in line]
    assert len(failed) == 1 and "222222222222/us-west-2" in failed[0]
    assert "failed creation" in failed[0]  # the run's own error line
    log = Path(failed[0].rsplit("log: ", 1)[1])
    assert "failed creation" in log.read_text()
    assert len([line for line in lines if line.strip().startswith("deployed")]) == 4
    assert lines[-1].startswith(
        "deploy: 4 of 5 account(s) deployed; failed: 222222222222/us-west-2"
    )
    assert str(log) in lines[-1]


def test_all_accounts_deployed_exit_zero(fake_cdk, tmp_path):
    completed, runs = classroom(fake_cdk, tmp_path, "deploy", seconds="0.2", fail="")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.splitlines()[-1] == "deploy: 5 of 5 account(s) deployed"
    # The deployConcurrency setting (4) bounds it when no --concurrency is given.
    assert most_at_once([r for r in runs if r["arguments"][0] == "deploy"]) <= 4


def test_no_accounts_deploys_the_one_stack_with_the_current_credentials(fake_cdk, tmp_path):
    completed, runs = classroom(fake_cdk, tmp_path, "deploy", fail="", accounts=[])
    assert completed.returncode == 0, completed.stderr
    (run,) = [r for r in runs if r["arguments"][0] == "deploy"]
    assert (run["stack"], run["profile"], run["access_key"]) == ("BirdsWorkshop", None, AMBIENT_KEY)
    assert "current account" in completed.stdout


def test_destroy_asks_once_and_deletes_nothing_without_yes(fake_cdk, tmp_path):
    completed, runs = classroom(fake_cdk, tmp_path, "destroy", stdin="n\n")
    assert completed.returncode == 0
    assert "Delete 5 stack(s): BirdsWorkshop in 111111111111/eu-west-1" in completed.stdout
    assert "nothing deleted" in completed.stdout
    assert runs == []


def test_destroy_without_an_answer_says_how_to_force(fake_cdk, tmp_path):
    completed, runs = classroom(fake_cdk, tmp_path, "destroy", stdin="")
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        "classroom: error: no answer on standard input: confirm with --force (make destroy FORCE=1)"
    ]
    assert runs == []


@pytest.mark.parametrize("how", [("y\n",), ("", "--force")], ids=["yes", "force"])
def test_destroy_deletes_every_account_in_parallel_with_its_profile(fake_cdk, tmp_path, how):
    stdin, *options = how
    completed, runs = classroom(
        fake_cdk, tmp_path, "destroy", *options, "--concurrency", "3", stdin=stdin, fail=""
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    destroys = [r for r in runs if r["arguments"][0] == "destroy"]
    assert all("--force" in r["arguments"] for r in destroys)  # cdk's own prompt is answered
    assert most_at_once(destroys) == 3
    assert {r["stack"]: r["profile"] for r in destroys}[
        "BirdsWorkshop-444444444444-eu-west-1"
    ] == "class-04"
    assert completed.stdout.splitlines()[-1] == "destroy: 5 of 5 account(s) destroyed"


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (
            ["deploy", "--concurrency", "0"],
            "classroom: error: invalid setting workshop.deployConcurrency: 0 must be between 1 and 64",
        ),
        (
            ["deploy", "--concurrency", "two"],
            "classroom: error: argument --concurrency: invalid int value: 'two'",
        ),
        (["deploy", "--bogus"], "classroom: error: unrecognized arguments: --bogus"),
        (["launch"], "classroom: error: argument command: invalid choice: 'launch'"),
    ],
)
def test_mistakes_are_one_line_with_recpacks_exit_codes(fake_cdk, tmp_path, arguments, expected):
    completed, runs = classroom(fake_cdk, tmp_path, *arguments)
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith(expected)
    assert completed.returncode == (1 if "invalid setting" in expected else 2)
    assert runs == []


def test_an_invalid_profile_name_is_refused_before_anything_runs(fake_cdk, tmp_path):
    accounts = [{"account": "111111111111", "region": "eu-west-1", "profile": "has space"}]
    completed, runs = classroom(fake_cdk, tmp_path, "deploy", accounts=accounts)
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "classroom: error: invalid setting workshop.accounts[0].profile: 'has space' is not an "
        "AWS CLI profile name (letters, digits and _ . @ + - only)"
    )
    assert runs == []


def test_a_failing_synth_deploys_nothing(fake_cdk, tmp_path):
    bin_dir, _ = fake_cdk
    (bin_dir / "cdk").write_text("#!/bin/sh\necho 'Error: app crashed' >&2\nexit 3\n")
    completed, _ = classroom(fake_cdk, tmp_path, "deploy")
    assert completed.returncode == 1
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("classroom: error: cdk synth failed (exit 3): Error: app crashed (log: ")


def test_most_at_once_counts_overlaps():
    runs = [
        {"started": 0, "ended": 2},
        {"started": 1, "ended": 3},
        {"started": 2, "ended": 4},
        {"started": 5, "ended": 6},
    ]
    assert most_at_once(runs) == 2
