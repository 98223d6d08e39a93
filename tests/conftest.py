"""Fixtures shared across tests/."""

import os
import subprocess
from pathlib import Path

import pytest

from recpack.format import recordio


def _fake_channels(folder, train_records, val_records, payload_size=64):
    """FOLDER/ds_train.rec and ds_val.rec of opaque payloads (labels alternate 0, 1) and a label map:
    what `recpack upload` needs, without images to decode. Returns the prefix."""
    prefix = str(folder / "ds")
    for suffix, count in (("_train", train_records), ("_val", val_records)):
        with open(prefix + suffix + ".rec", "wb") as rec:
            writer = recordio.RecordWriter(rec)
            for i in range(count):
                writer.write(recordio.pack(float(i % 2), i, os.urandom(payload_size)))
    (folder / "ds_labels.tsv").write_text(
        "label\tclass_id\tname\ttrain\tval\n0\ta\tA\t1\t1\n1\tb\tB\t1\t1\n"
    )
    return prefix


@pytest.fixture
def fake_channels():
    return _fake_channels


@pytest.fixture
def lab2_hyperparameters():
    """Lab 2's hyperparameters in the API's form (strings): what the defaults, Prepare and the
    validator must all come to."""
    return {
        "num_classes": "4",
        "num_training_samples": "335",
        "epochs": "15",
        "checkpoint_frequency": "15",
        "augmentation_type": "crop",
        "image_shape": "3,224,224",
        "learning_rate": "0.1",
        "lr_scheduler_factor": "0.1",
        "mini_batch_size": "24",
        "num_layers": "152",
        "optimizer": "sgd",
        "use_pretrained_model": "0",
    }


# Stacks with seats, synthesized once per session for the gates (tests/stacks/test_seats.py) and
# the IAM isolation tests (tests/fidelity/test_seat_isolation.py).
SEATED = {
    "3 seats": {"workshop.seats": "3"},
    # Notifications, budget, spot, training after packaging: every per-seat grant there is.
    "2 seats, every feature": {
        "workshop.seats": "2",
        "workshop.notificationEmails": '["ana@example.com"]',
        "workshop.budgetMonthlyUsd": "40",
        "workshop.training.spot": "true",
        "workshop.training.startAfterPackaging": "true",
    },
}


@pytest.fixture(scope="session")
def seated_apps(tmp_path_factory):
    """name -> (app, cloud assembly) for each SEATED configuration, on top of cdk.json."""
    import json
    from pathlib import Path

    from stacks.app import create_app

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    context = json.loads((Path(__file__).parents[1] / "cdk.json").read_text())["context"]
    apps = {}
    for name, overrides in SEATED.items():
        outdir = tmp_path_factory.mktemp("seated")
        app = create_app({**context, **overrides}, outdir=str(outdir))
        apps[name] = (app, app.synth())
    return apps


@pytest.fixture
def run_make():
    """Runs a Make target of the repository as a user types it, without rebuilding the environment
    (`-o setup`: it is already built)."""

    def run(target, *variables):
        return subprocess.run(
            ["make", "--no-print-directory", "-o", "setup", target, *variables],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
