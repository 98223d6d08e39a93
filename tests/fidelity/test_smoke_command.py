"""`make smoke`'s logic against the emulator: a stack with the workshop's outputs, a stand-in for the
packaging build that runs the real `recpack pipeline` on the uploaded archive, and the failures an
instructor can meet, each one line and exit 1. (The target itself needs real credentials.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from . import smoke
from .flows import FAKE_CREDENTIALS

REGION = "us-east-1"


def stack_template(name: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}
            },
            "Outputs": {
                "BucketName": {"Value": {"Ref": "Bucket"}},
                "RawImagesUri": {
                    "Value": {"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/raw/"]]}
                },
                "PackagingProjectName": {"Value": "smoke-test-project"},
            },
        }
    )


@pytest.fixture
def stack(emulator, monkeypatch, request):
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    # A valid bucket name: S3 (and `recpack --bucket`) refuse one ending in '-'.
    name = f"smoke-{request.node.name[5:30].replace('_', '-')}".lower().rstrip("-")
    emulator.client("cloudformation", REGION).create_stack(
        StackName=name, TemplateBody=stack_template(name)
    )
    return name


def packaging_stand_in(emulator, bucket: str, stop: threading.Event) -> threading.Thread:
    """Runs `recpack pipeline` on the first archive uploaded under raw/, as the build would."""

    def build():
        s3 = emulator.client("s3", REGION)
        while not stop.is_set():
            keys = [
                o["Key"]
                for o in s3.list_objects_v2(Bucket=bucket, Prefix="raw/").get("Contents", [])
            ]
            if keys:
                env = {**os.environ, **emulator.environment(REGION)}
                recpack = str(Path(sys.executable).parent / "recpack")
                subprocess.run(
                    [
                        recpack,
                        "pipeline",
                        "--bucket",
                        bucket,
                        "--source-key",
                        keys[0],
                        "--work-dir",  # a new folder: recpack refuses one it did not make
                        tempfile.mkdtemp(prefix=f"smoke-{bucket}-"),
                    ],
                    env=env,
                    capture_output=True,
                    timeout=120,
                )
                return
            time.sleep(0.1)

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    return thread


def arguments(emulator, stack, *extra):
    return [
        "--stack",
        stack,
        "--region",
        REGION,
        "--endpoint-url",
        emulator.endpoint,
        "--interval",
        "0.2",
        *extra,
    ]


def test_smoke_uploads_an_archive_recpack_packages_and_reports_the_manifest(
    emulator, stack, capsys
):
    stop = threading.Event()
    thread = packaging_stand_in(emulator, stack, stop)
    code = smoke.main(arguments(emulator, stack, "--timeout", "120"))
    stop.set()
    thread.join(timeout=60)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "ok: s3://" in out.out and "2 classes" in out.out
    keys = [
        o["Key"]
        for o in emulator.client("s3", REGION).list_objects_v2(Bucket=stack).get("Contents", [])
    ]
    assert not [k for k in keys if k.startswith("raw/")], "the smoke archive is removed"
    assert "manifest.json" in keys


def test_no_build_is_one_line_after_the_timeout(emulator, stack, capsys):
    assert smoke.main(arguments(emulator, stack, "--timeout", "1")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("smoke: error: no manifest for raw/smoke-") and "\n" not in err
    assert "list-builds-for-project --project-name smoke-test-project" in err


def test_a_stack_with_packaged_images_is_left_alone_without_force(emulator, stack, capsys):
    emulator.client("s3", REGION).put_object(
        Bucket=stack, Key="manifest.json", Body=json.dumps({"source": {"key": "raw/birds.zip"}})
    )
    assert smoke.main(arguments(emulator, stack)) == 1
    err = capsys.readouterr().err.strip()
    assert "already describes packaged images (from raw/birds.zip)" in err and "\n" not in err
    keys = [
        o["Key"]
        for o in emulator.client("s3", REGION).list_objects_v2(Bucket=stack).get("Contents", [])
    ]
    assert keys == ["manifest.json"]


def test_a_missing_stack_is_one_line(emulator, stack, capsys):
    assert smoke.main(arguments(emulator, "NoSuchStack")) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("smoke: error: stack NoSuchStack not found in us-east-1") and "\n" not in err
    )


def test_the_make_target_runs_the_script_with_the_settings_stack_name():
    completed = subprocess.run(
        ["make", "-n", "smoke", "STACK=Other", "REGION=eu-west-1"],
        cwd=smoke.REPO,
        capture_output=True,
        text=True,
    )
    assert 'tests/fidelity/smoke.py --stack "Other" --region "eu-west-1"' in completed.stdout
    assert smoke.parser().parse_args([]).stack == smoke.settings()["stackName"]
