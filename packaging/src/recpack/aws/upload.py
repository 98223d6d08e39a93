"""`recpack upload`: PREFIX_train.rec and PREFIX_val.rec become the training channels, each the only
.rec under its prefix, with a manifest naming them."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .. import defaults
from ..errors import CloudError, VerifyFailed
from ..format import labelmap, recordio
from .checksums import file_checksums, part_size
from .manifest import CHANNELS, Channel, ChannelSpec, Manifest, build, label_rows
from .s3 import S3Client, explain, list_objects, normalise_prefix, s3_client, transfer_config

_SHOWN_LABELS = 5


def tally_records(rec_path: str) -> tuple[int, Counter[float]]:
    """Records in a .rec, and how many of them carry each single label, walking the headers (a
    structural check; `verify` decodes the images)."""
    records, labels = 0, Counter[float]()
    with recordio.RecordReader(rec_path) as reader:
        for _, payload in reader:
            header, _ = recordio.unpack(payload)
            records += 1
            if not header.flag:
                labels[float(header.label)] += 1  # type: ignore[arg-type]  # single label: a float
    return records, labels


def _label_list(labels: Sequence[float]) -> str:
    shown = ", ".join(f"{label:g}" for label in labels[:_SHOWN_LABELS])
    return shown + (
        f" and {len(labels) - _SHOWN_LABELS} more" if len(labels) > _SHOWN_LABELS else ""
    )


def check_labels(
    channels: Sequence[Channel], classes: list[dict[str, Any]], label_map: str
) -> None:
    """Refuse channels the training job would fail on or learn less from than num_classes says:
    a label outside the label map's 0..n-1, or a class without a record in the train channel."""
    for channel in channels:
        outside = sorted(
            label
            for label in channel.labels
            if not (label.is_integer() and 0 <= label < len(classes))
        )
        if outside:
            raise VerifyFailed(
                f"{channel.local_path} holds labels {_label_list(outside)}, outside the label map "
                f"{label_map} (labels 0..{len(classes) - 1}): they come from different lists; list "
                "and pack again with the same PREFIX"
            )
    train = channels[0]
    if not train.labels:
        return  # multi-label records only: their label columns are not class numbers
    absent = [row for row in classes if float(row["label"]) not in train.labels]
    if absent:
        names = ", ".join(f"{row['label']} ({row['name']})" for row in absent[:_SHOWN_LABELS])
        more = f" and {len(absent) - _SHOWN_LABELS} more" if len(absent) > _SHOWN_LABELS else ""
        raise VerifyFailed(
            f"{train.local_path} has no record of {len(absent)} of the {len(classes)} classes in "
            f"{label_map}: {names}{more}; the model could not learn them. Were their images "
            "skipped while packing? Add images and list and pack again"
        )


def local_channel(prefix: str, spec: ChannelSpec, key_prefix: str) -> Channel:
    """PREFIX's .rec for one channel, counted and checksummed, to go under `key_prefix`."""
    path = prefix + spec.file_suffix
    if not os.path.isfile(path):
        raise CloudError(f"{path} not found; {_how_to_make(prefix, spec)}")
    size = os.path.getsize(path)
    sha256, s3_checksum = file_checksums(path, part_size(size))
    records, labels = tally_records(path)
    return Channel(
        spec.name,
        path,
        normalise_prefix(key_prefix),
        records,
        size,
        sha256,
        s3_checksum,
        labels,
    )


def _how_to_make(prefix: str, spec: ChannelSpec) -> str:
    """The step that makes a missing channel file, judged from what PREFIX has so far."""
    listing = f"'recpack list {prefix} ROOT --train-ratio 0.75'"
    packing = f"'recpack pack {prefix} ROOT'"
    if os.path.isfile(prefix + ".lst") or os.path.isfile(prefix + ".rec"):
        return (
            f"{prefix}.lst has no train/validation split: list again with {listing}, then {packing}"
        )
    if os.path.isfile(prefix + spec.file_suffix.replace(".rec", ".lst")):
        return f"pack the lists first: {packing}"
    return f"make it with {listing} and {packing}"


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
    check_labels((train, validation), labels, prefix + labelmap.SUFFIX)
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
