"""recpack upload and pipeline against moto's S3 (in-process)."""

import io
import json
import re
import tarfile
import zipfile

import boto3
import pytest
from moto import mock_aws

from recpack import synthetic
from recpack.aws.archive import extract_archive
from recpack.aws.pipeline import PipelineSettings, run_pipeline
from recpack.aws.upload import upload
from recpack.cli import main
from recpack.errors import CloudError

BUCKET = "workshop-bucket"


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def keys(s3, prefix=""):
    return sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    )


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


def _zip_dataset(tmp_path, wrapper="nabirds_sample"):
    folder = tmp_path / "src" / wrapper
    synthetic.nabirds_dataset(str(folder), per_class=8, seed=4)
    archive = tmp_path / "birds.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            bundle.write(path, path.relative_to(tmp_path / "src"))
    return archive


def test_pipeline_takes_the_newest_archive_and_publishes_the_channels(s3, tmp_path, capsys):
    archive = _zip_dataset(tmp_path)
    s3.put_object(Bucket=BUCKET, Key="raw/notes.txt", Body=b"not an archive")
    s3.upload_file(str(archive), BUCKET, "raw/birds.zip")
    manifest = run_pipeline(
        PipelineSettings(
            bucket=BUCKET,
            resize=64,
            work_dir=str(tmp_path / "work"),
            classes=("0752", "Northern Cardinal", "794"),
        )
    )
    assert manifest["source"] == {"bucket": BUCKET, "key": "raw/birds.zip"}
    assert manifest["num_classes"] == 3 and manifest["num_training_samples"] == 18
    assert [row["name"] for row in manifest["labels"]] == [
        "Purple Martin",
        "Northern Cardinal",
        "American Goldfinch",
    ]
    assert keys(s3, "train/") == [manifest["train"]["key"]] and keys(s3, "validation/") == [
        manifest["validation"]["key"]
    ]
    assert manifest["train"]["key"].startswith("train/birds_train-")
    out = capsys.readouterr().out
    for step in ("downloading", "extracting", "listing", "packing", "verifying", "uploading"):
        assert f"==> {step}" in out


def test_pipeline_without_an_archive_says_where_it_looked(s3, tmp_path, capsys):
    assert main(["pipeline", "--bucket", BUCKET, "--work-dir", str(tmp_path / "w")]) == 1
    assert (
        f"no .zip, .tar, .tar.gz, .tgz archive under s3://{BUCKET}/raw/" in capsys.readouterr().err
    )


def test_archives_cannot_write_outside_the_extraction_folder(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("../escaped.txt", "x")
    with pytest.raises(CloudError, match="outside the extraction folder"):
        extract_archive(str(evil), str(tmp_path / "out"))
    assert not (tmp_path / "escaped.txt").exists()
    tar_path = tmp_path / "evil.tar.gz"
    with tarfile.open(tar_path, "w:gz") as bundle:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        bundle.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(CloudError, match="cannot extract"):
        extract_archive(str(tar_path), str(tmp_path / "out2"))
    assert not (tmp_path / "escaped.txt").exists()


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


def test_verify_compares_a_rec_with_its_manifest(s3, tmp_path, capsys):
    from recpack import synthetic

    root = tmp_path / "images"
    synthetic.folder_dataset(str(root), per_class=4, classes=["a", "b"], seed=1)
    prefix = str(tmp_path / "ds")
    assert main(["list", prefix, str(root), "--train-ratio", "0.5"]) == 0
    assert main(["pack", prefix, str(root), "--resize", "32", "--workers", "1"]) == 0
    manifest = upload(prefix, BUCKET, say=lambda line: None)
    capsys.readouterr()
    assert (
        main(["verify", prefix + "_train.rec", "--manifest", f"s3://{BUCKET}/manifest.json"]) == 0
    )
    assert "matches the train entry" in capsys.readouterr().out
    manifest["num_training_samples"] = 99
    manifest["train"]["records"] = 99
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    assert main(["verify", prefix + "_train.rec", "--manifest", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err
    assert "holds 4 records" in err and "num_training_samples is 99" in err
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["verify", prefix + "_val.rec", "--manifest", str(tmp_path / "bad.json")]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_pipeline_accepts_a_url_encoded_key_from_the_event(s3, tmp_path):
    archive = _zip_dataset(tmp_path)
    s3.upload_file(str(archive), BUCKET, "raw/spring birds.zip")
    manifest = run_pipeline(
        PipelineSettings(
            bucket=BUCKET,
            source_key="raw/spring+birds.zip",
            resize=32,
            work_dir=str(tmp_path / "work"),
        ),
        say=lambda line: None,
    )
    assert manifest["source"]["key"] == "raw/spring birds.zip"
