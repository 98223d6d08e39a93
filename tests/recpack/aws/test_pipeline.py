"""recpack pipeline against moto's S3 (in-process): the archive in, the channels out."""

import io
import tarfile
import zipfile

import pytest

from recpack.aws.archive import extract_archive
from recpack.aws.pipeline import PipelineSettings, run_pipeline
from recpack.cli import main
from recpack.errors import CloudError
from recpack.files.ownership import MARKER, is_owned

from .conftest import BUCKET, keys, zip_dataset


def test_pipeline_takes_the_newest_archive_and_publishes_the_channels(s3, tmp_path, capsys):
    archive = zip_dataset(tmp_path)
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


def test_pipeline_accepts_a_url_encoded_key_from_the_event(s3, tmp_path):
    archive = zip_dataset(tmp_path)
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


def test_pipeline_reruns_in_its_own_work_dir_and_removes_only_what_it_wrote(s3, tmp_path):
    s3.upload_file(str(zip_dataset(tmp_path)), BUCKET, "raw/birds.zip")
    settings = PipelineSettings(bucket=BUCKET, resize=32, work_dir=str(tmp_path / "work"))
    run_pipeline(settings, say=lambda line: None, warn=lambda line: None)
    work = tmp_path / "work"
    assert is_owned(str(work)) and (work / "out" / "birds_train.rec").is_file()
    (work / "my-notes.txt").write_text("the user put this here")
    run_pipeline(settings, say=lambda line: None, warn=lambda line: None)
    assert (work / "my-notes.txt").read_text() == "the user put this here"
    assert sorted(p.name for p in work.iterdir()) == [
        MARKER,
        "download",
        "extracted",
        "my-notes.txt",
        "out",
    ]


def test_pipeline_refuses_a_dataset_of_one_class_before_packing(s3, tmp_path, capsys):
    s3.upload_file(str(zip_dataset(tmp_path)), BUCKET, "raw/birds.zip")
    code = main(
        ["pipeline", "--bucket", BUCKET, "--classes", "0752", "--work-dir", str(tmp_path / "w")]
    )
    err = capsys.readouterr().err
    assert code == 1 and "recpack: error: only one class" in err
    assert not list((tmp_path / "w").rglob("*.rec")) and keys(s3, "train/") == []


def test_a_missing_bucket_is_named_as_missing_not_as_a_connection_failure(s3, tmp_path, capsys):
    assert main(["pipeline", "--bucket", "no-such-bucket", "--work-dir", str(tmp_path / "w")]) == 1
    err = capsys.readouterr().err
    assert "s3://no-such-bucket/raw/: the bucket does not exist" in err
    code = main(
        ["pipeline", "--bucket", "no-such-bucket", "--source-key", "raw/birds.zip",
         "--work-dir", str(tmp_path / "w")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "the bucket does not exist" in err and "connection" not in err
    code = main(
        ["pipeline", "--bucket", BUCKET, "--source-key", "raw/nothing.zip",
         "--work-dir", str(tmp_path / "w")]
    )  # fmt: skip
    assert code == 1 and "no such object in the bucket" in capsys.readouterr().err
