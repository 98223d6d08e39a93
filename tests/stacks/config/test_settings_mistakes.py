"""Settings given with `cdk -c` as an instructor types them, run as the CDK CLI runs the app (its
context in CDK_CONTEXT_JSON): each mistake is one `Invalid setting` line naming the setting and
what is wrong, exit 1, no traceback. Text that is not JSON is no longer taken as a string for a
setting that is not one."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

ROWS = [
    (
        {"workshop.accounts": '[{"account": "111122223333", "region": "eu-west-1",}]'},
        'workshop.accounts: \'[{"account": "111122223333", "region": "eu-west-1",}]\' is not '
        "valid JSON (Expecting property name enclosed in double quotes at column 52); expected a "
        'list of {"account", "region"} objects',
    ),
    (
        {"workshop.packaging.classes": '["0752", "0772"'},
        "workshop.packaging.classes: '[\"0752\", \"0772\"' is not valid JSON (Expecting ',' "
        "delimiter at column 16); expected a list of strings",
    ),
    (
        {"workshop.packaging.quality": "9O"},
        "workshop.packaging.quality: '9O' is not valid JSON (Extra data at column 2); expected an "
        "integer",
    ),
    (
        {"workshop.retainBucket": "yes"},
        "workshop.retainBucket: 'yes' is not valid JSON (Expecting value at column 1); expected "
        "true or false",
    ),
    (
        {"workshop.accounts": '[{"account": "111122223333", "region": null}]'},
        "workshop.accounts[0].region: expected a string, got null",
    ),
    (
        {"workshop.accounts": '[{"account": "111122223333"}]'},
        "workshop.accounts[0].region: expected a string, but it is missing",
    ),
    (
        {"workshop.training.hyperparameters.epochs": "twenty"},
        "workshop.training.hyperparameters.epochs = 'twenty': must be a whole number",
    ),
]


@pytest.mark.parametrize("context, expected", ROWS, ids=[next(iter(r[0])) for r in ROWS])
def test_a_mistaken_setting_is_one_line(tmp_path, context, expected):
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))
    }
    env.update(
        CDK_CONTEXT_JSON=json.dumps(context),
        CDK_OUTDIR=str(tmp_path / "cdk.out"),
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
    )
    completed = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.startswith("Invalid setting")]
    assert lines == [f"Invalid setting {expected}"], completed.stderr
    assert "null null" not in completed.stderr
