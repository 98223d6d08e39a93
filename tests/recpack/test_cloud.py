"""recpack upload and pipeline against moto's S3 (in-process)."""

import io
import json
import os
import tarfile
import zipfile

import boto3
import pytest
from moto import mock_aws

from recpack import recordio, synthetic
from recpack.cli import main
from recpack.cloud import CloudError, PipelineSettings, extract_archive, run_pipeline, upload

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
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def fake_channels(folder, train_records, val_records, payload_size=64):
    """PREFIX_train.rec / PREFIX_val.rec of opaque payloads, and a label map."""
    prefix = str(folder / "ds")
    for suffix, count in (("_train", train_records), ("_val", val_records)):
        with open(prefix + suffix + ".rec", "wb") as rec:
            writer = recordio.RecordWriter(rec)
            for i in range(count):
                writer.write(recordio.pack(float(i % 2), i, os.urandom(payload_size)))
    (folder / "ds_labels.tsv").write_text("label\tclass_id\tname\ttrain\tval\n0\ta\tA\t1\t1\n1\tb\tB\t1\t1\n")
    return prefix


def test_upload_replaces_each_channel_with_exactly_one_rec_and_writes_the_manifest(s3, tmp_path):
    for key in ("train/old.rec", "train/other.rec", "validation/old.rec", "raw/birds.zip"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    prefix = fake_channels(tmp_path, 7, 3)
    manifest = upload(prefix, BUCKET, source={"key": "raw/birds.zip"})
    assert keys(s3, "train/") == ["train/ds_train.rec"]
    assert keys(s3, "validation/") == ["validation/ds_val.rec"]
    assert keys(s3, "raw/") == ["raw/birds.zip"]
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key="manifest.json")["Body"].read())
    assert stored == manifest
    assert (stored["num_training_samples"], stored["num_validation_samples"], stored["num_classes"]) == (7, 3, 2)
    assert stored["labels"][1] == {"label": 1, "class_id": "b", "name": "B", "train": 1, "val": 1}
    body = s3.get_object(Bucket=BUCKET, Key="train/ds_train.rec")["Body"].read()
    assert body == open(prefix + "_train.rec", "rb").read()
    assert stored["train"]["sha256"] == __import__("hashlib").sha256(body).hexdigest()


def test_large_channels_go_up_in_several_multipart_parts(s3, tmp_path):
    prefix = fake_channels(tmp_path, 300, 2, payload_size=70_000)  # ~21 MB: three 8 MB parts
    upload(prefix, BUCKET)
    head = s3.head_object(Bucket=BUCKET, Key="train/ds_train.rec", PartNumber=1)
    assert head["PartsCount"] == 3
    assert s3.get_object(Bucket=BUCKET, Key="train/ds_train.rec")["Body"].read() == open(prefix + "_train.rec", "rb").read()


def test_upload_errors_name_the_missing_file_or_bucket(s3, tmp_path, capsys):
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
    manifest = run_pipeline(PipelineSettings(bucket=BUCKET, resize=64, work_dir=str(tmp_path / "work"),
                                             classes=("0752", "Northern Cardinal", "794")))
    assert manifest["source"] == {"bucket": BUCKET, "key": "raw/birds.zip"}
    assert manifest["num_classes"] == 3 and manifest["num_training_samples"] == 18
    assert [row["name"] for row in manifest["labels"]] == ["Purple Martin", "Northern Cardinal", "American Goldfinch"]
    assert keys(s3, "train/") == ["train/birds_train.rec"] and keys(s3, "validation/") == ["validation/birds_val.rec"]
    out = capsys.readouterr().out
    for step in ("downloading", "extracting", "listing", "packing", "verifying", "uploading"):
        assert f"==> {step}" in out


def test_pipeline_without_an_archive_says_where_it_looked(s3, tmp_path, capsys):
    assert main(["pipeline", "--bucket", BUCKET, "--work-dir", str(tmp_path / "w")]) == 1
    assert f"no .zip, .tar, .tar.gz, .tgz archive under s3://{BUCKET}/raw/" in capsys.readouterr().err


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
