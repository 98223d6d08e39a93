"""recpack upload against moto's S3 (in-process): the channels and the manifest, and faults."""

import json
import re

import pytest

from recpack.aws.upload import upload
from recpack.cli import main
from recpack.errors import CloudError
from recpack.format import recordio

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
    assert "the bucket does not exist" in capsys.readouterr().err


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


# --- channels that cannot train -------------------------------------------------------------------


def test_a_train_channel_without_a_class_is_refused_before_any_upload(
    s3, tmp_path, capsys, fake_channels
):
    prefix = fake_channels(tmp_path, 1, 2)  # one train record: label 0 only, of classes 0 and 1
    assert main(["upload", prefix, "--bucket", BUCKET]) == 1
    err = capsys.readouterr().err
    assert (
        f"{prefix}_train.rec has no record of 1 of the 2 classes in {prefix}_labels.tsv: 1 (B)"
        in err
    )
    assert keys(s3) == []


def test_labels_outside_the_label_map_are_refused(s3, tmp_path, capsys, fake_channels):
    prefix = fake_channels(tmp_path, 4, 2)
    with open(prefix + "_val.rec", "ab") as rec:
        recordio.RecordWriter(rec).write(recordio.pack(7.0, 99, b"payload"))
    assert main(["upload", prefix, "--bucket", BUCKET]) == 1
    err = capsys.readouterr().err
    assert f"{prefix}_val.rec holds labels 7, outside the label map" in err
    assert "(labels 0..1)" in err and keys(s3) == []


def test_a_label_map_saved_again_by_a_spreadsheet_still_uploads(s3, tmp_path, fake_channels):
    prefix = fake_channels(tmp_path, 4, 2)
    # Excel's "CSV UTF-8" habits on a tab-separated file: a byte order mark, CRLF, quoted text,
    # an empty cell at the end of a row.
    (tmp_path / "ds_labels.tsv").write_bytes(
        b'\xef\xbb\xbflabel\tclass_id\tname\ttrain\tval\r\n0\ta\t"A, the first"\t1\t1\t\r\n'
        b"1\tb\tB\t1\t1\r\n"
    )
    labels = upload(prefix, BUCKET)["labels"]
    assert [(row["class_id"], row["name"], row["val"]) for row in labels] == [
        ("a", "A, the first", 1),
        ("b", "B", 1),
    ]


@pytest.mark.parametrize(
    "label_map, message",
    [
        ("label,class_id,name\n0,a,A\n1,b,B\n", "the label map is comma-separated"),
        ("label\tclass_id\tname\ttrain\n0\ta\tA\tone\n1\tb\tB\t1\n", "class a: train 'one' is not"),
        ("label\tclass_id\tname\n1\ta\tA\n0\tb\tB\n", "class a has label 1, expected 0"),
        ("index\tpath\n", "not a recpack label map"),
    ],
    ids=["csv", "not-a-number", "out-of-order", "another-file"],
)
def test_label_maps_that_cannot_be_read_are_one_line(
    s3, tmp_path, capsys, fake_channels, label_map, message
):
    prefix = fake_channels(tmp_path, 4, 2)
    (tmp_path / "ds_labels.tsv").write_text(label_map)
    assert main(["upload", prefix, "--bucket", BUCKET]) == 1
    err = capsys.readouterr().err
    assert err.startswith("recpack: error: ") and message in err and err.count("\n") == 1
    assert keys(s3) == []


def test_a_label_map_in_a_legacy_windows_encoding_is_named(s3, tmp_path, capsys, fake_channels):
    prefix = fake_channels(tmp_path, 4, 2)
    (tmp_path / "ds_labels.tsv").write_bytes(
        "label\tclass_id\tname\n0\ta\tMésange\n1\tb\tB\n".encode("cp1252")
    )
    assert main(["upload", prefix, "--bucket", BUCKET]) == 1
    assert "the label map is not UTF-8 text" in capsys.readouterr().err
