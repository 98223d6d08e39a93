"""recpack upload against moto's S3 (in-process): the channels and the manifest, and faults."""

import json
import re

import pytest

from recpack.aws.upload import upload
from recpack.cli import main
from recpack.errors import CloudError

from .conftest import BUCKET, keys


def test_upload_replaces_each_channel_with_exactly_one_rec_and_writes_the_manifest(
    s3, tmp_path, fake_channels
):
    for key in ("train/old.rec", "train/other.rec", "validation/old.rec", "raw/birds.zip"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    prefix = fake_channels(tmp_path, 7, 3)
    manifest = upload(prefix, BUCKET, source={"key": "raw/birds.zip"})
    assert keys(s3, "train/") == [manifest["train"]["key"]]
    assert keys(s3, "validation/") == [manifest["validation"]["key"]]
    assert keys(s3, "raw/") == ["raw/birds.zip"]
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key="manifest.json")["Body"].read())
    assert stored == manifest
    assert (
        stored["num_training_samples"],
        stored["num_validation_samples"],
        stored["num_classes"],
    ) == (7, 3, 2)
    assert stored["labels"][1] == {"label": 1, "class_id": "b", "name": "B", "train": 1, "val": 1}
    assert re.fullmatch(r"train/ds_train-[0-9a-f]{12}\.rec", manifest["train"]["key"])
    body = s3.get_object(Bucket=BUCKET, Key=manifest["train"]["key"])["Body"].read()
    assert body == open(prefix + "_train.rec", "rb").read()
    assert stored["train"]["sha256"] == __import__("hashlib").sha256(body).hexdigest()


def test_large_channels_go_up_in_several_multipart_parts(s3, tmp_path, fake_channels):
    prefix = fake_channels(tmp_path, 300, 2, payload_size=70_000)  # ~21 MB: three 8 MB parts
    key = upload(prefix, BUCKET)["train"]["key"]
    head = s3.head_object(Bucket=BUCKET, Key=key, PartNumber=1)
    assert head["PartsCount"] == 3
    assert (
        s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        == open(prefix + "_train.rec", "rb").read()
    )


def test_upload_errors_name_the_missing_file_or_bucket(s3, tmp_path, capsys, fake_channels):
    assert main(["upload", str(tmp_path / "none"), "--bucket", BUCKET]) == 1
    assert "none_train.rec not found" in capsys.readouterr().err
    prefix = fake_channels(tmp_path, 2, 2)
    assert main(["upload", prefix, "--bucket", "no-such-bucket"]) == 1
    assert "NoSuchBucket" in capsys.readouterr().err


# --- faults -----------------------------------------------------------------------------------------


def _fail_some(s3_client_factory, operation, failures, error):
    """An s3_client whose client fails `operation` the first `failures` times."""
    remaining = {"n": failures}

    def factory(endpoint_url=None):
        client = s3_client_factory(endpoint_url)

        def inject(**kwargs):
            if remaining["n"] > 0:
                remaining["n"] -= 1
                raise error()

        client.meta.events.register(f"before-send.s3.{operation}", inject)
        return client

    return factory, remaining


def test_transient_errors_during_a_multipart_upload_are_retried(
    s3, tmp_path, monkeypatch, fake_channels
):
    import botocore.exceptions

    from recpack.aws import upload as upload_module

    prefix = fake_channels(tmp_path, 300, 2, payload_size=70_000)
    factory, remaining = _fail_some(
        upload_module.s3_client,
        "UploadPart",
        2,
        lambda: botocore.exceptions.ConnectionClosedError(endpoint_url="https://s3"),
    )
    monkeypatch.setattr(upload_module, "s3_client", factory)
    manifest = upload(prefix, BUCKET, say=lambda line: None)
    assert remaining["n"] == 0
    assert (
        s3.get_object(Bucket=BUCKET, Key=manifest["train"]["key"])["Body"].read()
        == open(prefix + "_train.rec", "rb").read()
    )


def test_a_failed_upload_leaves_the_previous_channels_and_manifest_in_place(
    s3, tmp_path, monkeypatch, capsys, fake_channels
):
    import botocore.exceptions

    from recpack.aws import upload as upload_module

    first = tmp_path / "first"
    first.mkdir()
    before = upload(fake_channels(first, 5, 2), BUCKET, say=lambda line: None)
    second = tmp_path / "second"
    second.mkdir()
    prefix = fake_channels(second, 300, 2, payload_size=70_000)
    factory, _ = _fail_some(
        upload_module.s3_client,
        "UploadPart",
        10_000,
        lambda: botocore.exceptions.ConnectionClosedError(endpoint_url="https://s3"),
    )
    monkeypatch.setattr(upload_module, "s3_client", factory)
    assert main(["upload", prefix, "--bucket", BUCKET]) == 1
    error = capsys.readouterr().err
    assert "the connection failed after retries" in error and "run the command again" in error
    assert json.loads(s3.get_object(Bucket=BUCKET, Key="manifest.json")["Body"].read()) == before
    assert keys(s3, "train/") == [before["train"]["key"]] and keys(s3, "validation/") == [
        before["validation"]["key"]
    ]
    assert (
        s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    )  # aborted, nothing left to bill
    monkeypatch.undo()
    after = upload(prefix, BUCKET, say=lambda line: None)  # the re-run completes
    assert keys(s3, "train/") == [after["train"]["key"]] and after["num_training_samples"] == 300


def test_a_stored_object_that_differs_from_the_file_is_reported(
    s3, tmp_path, monkeypatch, fake_channels
):
    from recpack.aws import upload as upload_module

    prefix = fake_channels(tmp_path, 4, 2)
    real_file_checksums = upload_module.file_checksums
    monkeypatch.setattr(
        upload_module,
        "file_checksums",
        lambda path, part: (
            real_file_checksums(path, part)[0],
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
    )
    with pytest.raises(CloudError, match="the upload was corrupted"):
        upload(prefix, BUCKET, say=lambda line: None)
    assert "manifest.json" not in keys(s3)
