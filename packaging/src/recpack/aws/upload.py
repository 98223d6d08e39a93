"""`recpack upload`: PREFIX_train.rec and PREFIX_val.rec become the training channels, each the only
.rec under its prefix, with a manifest naming them."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from .. import defaults
from ..errors import CloudError
from ..format import recordio
from .checksums import file_checksums, part_size
from .manifest import CHANNELS, Channel, ChannelSpec, Manifest, build, label_rows
from .s3 import S3Client, explain, list_objects, normalise_prefix, s3_client, transfer_config


def count_records(rec_path: str) -> int:
    """Records in a .rec, walking the headers (a structural check; `verify` decodes the images)."""
    with recordio.RecordReader(rec_path) as reader:
        return sum(1 for _ in reader)


def local_channel(prefix: str, spec: ChannelSpec, key_prefix: str) -> Channel:
    """PREFIX's .rec for one channel, counted and checksummed, to go under `key_prefix`."""
    path = prefix + spec.file_suffix
    if not os.path.isfile(path):
        raise CloudError(f"{path} not found; create it with 'recpack pack {prefix} ROOT'")
    size = os.path.getsize(path)
    sha256, s3_checksum = file_checksums(path, part_size(size))
    return Channel(
        spec.name,
        path,
        normalise_prefix(key_prefix),
        count_records(path),
        size,
        sha256,
        s3_checksum,
    )


def put_channel(s3: S3Client, bucket: str, channel: Channel) -> None:
    """Upload one .rec (multipart through s3transfer, checksummed per part) and check what S3 stored."""
    try:
        s3.upload_file(
            channel.local_path,
            bucket,
            channel.key,
            Config=transfer_config(),
            ExtraArgs={
                "ChecksumAlgorithm": "SHA256",
                "Metadata": {"sha256": channel.sha256, "records": str(channel.records)},
                "ContentType": "application/x-recordio",
            },
        )
        head = s3.head_object(Bucket=bucket, Key=channel.key, ChecksumMode="ENABLED")
    except Exception as exc:
        raise explain(
            exc, f"uploading {channel.local_path} to s3://{bucket}/{channel.key}"
        ) from None
    stored = head.get("ChecksumSHA256")
    # moto omits the -<parts> suffix of a multipart checksum that S3 adds; the digest is what counts.
    if head["ContentLength"] != channel.bytes or (
        stored and stored.split("-")[0] != channel.s3_checksum.split("-")[0]
    ):
        raise CloudError(
            f"s3://{bucket}/{channel.key}: S3 stored {head['ContentLength']} bytes with SHA-256 "
            f"{stored}, but {channel.local_path} has {channel.bytes} bytes with {channel.s3_checksum}; "
            "the upload was corrupted: run the command again"
        )


def remove_others(s3: S3Client, bucket: str, prefix: str, keep: str) -> int:
    stale = [{"Key": o["Key"]} for o in list_objects(s3, bucket, prefix) if o["Key"] != keep]
    for start in range(0, len(stale), 1000):
        try:
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": stale[start : start + 1000], "Quiet": True}
            )
        except Exception as exc:
            raise explain(exc, f"removing older objects under s3://{bucket}/{prefix}") from None
    return len(stale)


def _put_manifest(s3: S3Client, bucket: str, key: str, manifest: Manifest) -> None:
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(manifest, indent=2).encode(),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
        )
    except Exception as exc:
        raise explain(exc, f"writing s3://{bucket}/{key}") from None


def upload(
    prefix: str,
    bucket: str,
    *,
    train_prefix: str = defaults.TRAIN_PREFIX,
    validation_prefix: str = defaults.VALIDATION_PREFIX,
    manifest_key: str = defaults.MANIFEST_KEY,
    source: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    endpoint_url: str | None = None,
    say: Callable[[str], None] = print,
) -> Manifest:
    """Replace the train and validation channels with PREFIX_train.rec / PREFIX_val.rec; write the manifest.

    Order matters for a run that fails part-way: both files go up under new names first, then the
    manifest names them, and only then are the previous files removed. Until the manifest is written
    the previous manifest and files stay consistent; a re-run finishes the job.
    """
    train, validation = (
        local_channel(prefix, spec, key_prefix)
        for spec, key_prefix in zip(CHANNELS, (train_prefix, validation_prefix), strict=True)
    )
    labels = label_rows(prefix)
    s3 = s3_client(endpoint_url)
    for channel in (train, validation):
        started = time.perf_counter()
        put_channel(s3, bucket, channel)
        say(
            f"uploaded s3://{bucket}/{channel.key} ({channel.records} records, "
            f"{channel.bytes / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s, SHA-256 checked)"
        )
    manifest = build(train, validation, labels, options or {}, source or {})
    _put_manifest(s3, bucket, manifest_key, manifest)
    say(
        f"wrote s3://{bucket}/{manifest_key} (num_training_samples={train.records}, "
        f"num_classes={len(labels)})"
    )
    for channel in (train, validation):
        removed = remove_others(s3, bucket, channel.prefix, channel.key)
        if removed:
            say(f"removed {removed} older object(s) under s3://{bucket}/{channel.prefix}")
    return manifest
