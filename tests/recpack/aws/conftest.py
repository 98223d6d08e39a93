"""Fixtures of the S3 tests: moto's S3 in-process, and a zipped NABirds-layout dataset."""

import zipfile

import boto3
import pytest
from moto import mock_aws

from recpack import synthetic

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
    """Sorted keys under `prefix` in the test bucket."""
    return sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    )


def zip_dataset(tmp_path, wrapper="nabirds_sample"):
    """birds.zip in `tmp_path`: a NABirds-layout sample inside a wrapper folder, as instructors zip it."""
    folder = tmp_path / "src" / wrapper
    synthetic.nabirds_dataset(str(folder), per_class=8, seed=4)
    archive = tmp_path / "birds.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            bundle.write(path, path.relative_to(tmp_path / "src"))
    return archive
