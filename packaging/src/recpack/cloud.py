"""S3 side of recpack: upload the channels with a manifest, and the one-shot pipeline CodeBuild runs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import re
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .errors import CloudError, VerifyFailed
from .format import recordio

if TYPE_CHECKING:
    from .pack.verify import VerifyResult

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
MANIFEST_SCHEMA = 1
_CHUNK = 8 * 1024 * 1024


def s3_client(endpoint_url: str | None = None):
    import boto3
    from botocore.config import Config

    # boto3 reads AWS_ENDPOINT_URL itself when endpoint_url is None.
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        config=Config(retries={"max_attempts": 8, "mode": "standard"}),
    )


def transfer_config():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=_CHUNK, multipart_chunksize=_CHUNK, max_concurrency=4)


def _explain(exc: Exception, action: str) -> CloudError:
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        EndpointConnectionError,
        HTTPClientError,
        NoCredentialsError,
    )

    if isinstance(exc, NoCredentialsError):
        return CloudError(
            f"{action}: no AWS credentials found (configure a profile or set AWS_ACCESS_KEY_ID)"
        )
    if isinstance(exc, EndpointConnectionError):
        return CloudError(
            f"{action}: cannot reach {exc.kwargs.get('endpoint_url', 'the S3 endpoint')} "
            "(retried); check the network or --endpoint-url and run the command again"
        )
    if isinstance(exc, (ConnectionError, HTTPClientError, S3UploadFailedError)):
        return CloudError(
            f"{action}: the connection failed after retries ({exc}); nothing partial is "
            "visible in the bucket: run the command again"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return CloudError(f"{action}: {error.get('Code', 'error')}: {error.get('Message', exc)}")
    return CloudError(f"{action}: {exc}")


def _normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


def file_checksums(path: str, part_size: int) -> tuple[str, str]:
    """(sha256 hex of the file, the SHA-256 checksum S3 reports for it uploaded in `part_size` parts).

    For a multipart upload S3 reports the checksum of the parts' checksums, suffixed -<parts>.
    """
    whole = hashlib.sha256()
    part_digests = []
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(part_size), b""):
            whole.update(block)
            part_digests.append(hashlib.sha256(block).digest())
    if os.path.getsize(path) < _CHUNK:  # below s3transfer's multipart threshold: one PUT
        s3_checksum = base64.b64encode(whole.digest()).decode()
    else:
        composite = hashlib.sha256(b"".join(part_digests)).digest()
        s3_checksum = f"{base64.b64encode(composite).decode()}-{len(part_digests)}"
    return whole.hexdigest(), s3_checksum


def _part_size(size: int) -> int:
    from s3transfer.utils import ChunksizeAdjuster

    return ChunksizeAdjuster().adjust_chunksize(_CHUNK, size)  # what s3transfer will use


def count_records(rec_path: str) -> int:
    """Records in a .rec, walking the headers (a structural check; `verify` decodes the images)."""
    with recordio.RecordReader(rec_path) as reader:
        return sum(1 for _ in reader)


@dataclass
class Channel:
    name: str  # "train" or "validation"
    local_path: str
    prefix: str
    records: int
    bytes: int
    sha256: str
    s3_checksum: str

    @property
    def key(self) -> str:
        # Content-addressed: the new file never overwrites the one the current manifest names.
        stem, ext = os.path.splitext(os.path.basename(self.local_path))
        return f"{self.prefix}{stem}-{self.sha256[:12]}{ext}"


def _list_keys(s3, bucket: str, prefix: str) -> list[dict]:
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    return objects


def put_channel(s3, bucket: str, channel: Channel) -> None:
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
        raise _explain(
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


def remove_others(s3, bucket: str, prefix: str, keep: str) -> int:
    stale = [{"Key": o["Key"]} for o in _list_keys(s3, bucket, prefix) if o["Key"] != keep]
    for start in range(0, len(stale), 1000):
        try:
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": stale[start : start + 1000], "Quiet": True}
            )
        except Exception as exc:
            raise _explain(exc, f"removing older objects under s3://{bucket}/{prefix}") from None
    return len(stale)


def _label_rows(prefix: str) -> list[dict]:
    from .format import labelmap

    path = prefix + labelmap.SUFFIX
    if not os.path.isfile(path):
        raise CloudError(f"{path}: the label map from 'recpack list' is missing")
    rows = []
    for row in labelmap.read(path):
        entry = {"label": int(row["label"]), "class_id": row["class_id"], "name": row["name"]}
        for split in ("train", "val", "test", "all"):
            if split in row:
                entry[split] = int(row[split])
        rows.append(entry)
    return rows


def upload(
    prefix: str,
    bucket: str,
    *,
    train_prefix: str = "train/",
    validation_prefix: str = "validation/",
    manifest_key: str = "manifest.json",
    source: dict | None = None,
    options: dict | None = None,
    endpoint_url: str | None = None,
    say: Callable[[str], None] = print,
) -> dict:
    """Replace the train and validation channels with PREFIX_train.rec / PREFIX_val.rec; write the manifest.

    Order matters for a run that fails part-way: both files go up under new names first, then the
    manifest names them, and only then are the previous files removed. Until the manifest is written
    the previous manifest and files stay consistent; a re-run finishes the job.
    """
    channels = []
    for name, suffix, key_prefix in (
        ("train", "_train.rec", train_prefix),
        ("validation", "_val.rec", validation_prefix),
    ):
        path = prefix + suffix
        if not os.path.isfile(path):
            raise CloudError(f"{path} not found; create it with 'recpack pack {prefix} ROOT'")
        size = os.path.getsize(path)
        sha256, s3_checksum = file_checksums(path, _part_size(size))
        channels.append(
            Channel(
                name,
                path,
                _normalise_prefix(key_prefix),
                count_records(path),
                size,
                sha256,
                s3_checksum,
            )
        )
    labels = _label_rows(prefix)
    s3 = s3_client(endpoint_url)
    for channel in channels:
        started = time.perf_counter()
        put_channel(s3, bucket, channel)
        say(
            f"uploaded s3://{bucket}/{channel.key} ({channel.records} records, {channel.bytes / 1e6:.1f} MB, "
            f"{time.perf_counter() - started:.1f} s, SHA-256 checked)"
        )
    train, validation = channels
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "num_training_samples": train.records,
        "num_validation_samples": validation.records,
        "num_classes": len(labels),
        "labels": labels,
        "train": {
            "key": train.key,
            "records": train.records,
            "bytes": train.bytes,
            "sha256": train.sha256,
        },
        "validation": {
            "key": validation.key,
            "records": validation.records,
            "bytes": validation.bytes,
            "sha256": validation.sha256,
        },
        "options": options or {},
        "source": source or {},
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    try:
        s3.put_object(
            Bucket=bucket,
            Key=manifest_key,
            Body=json.dumps(manifest, indent=2).encode(),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
        )
    except Exception as exc:
        raise _explain(exc, f"writing s3://{bucket}/{manifest_key}") from None
    say(
        f"wrote s3://{bucket}/{manifest_key} (num_training_samples={train.records}, num_classes={len(labels)})"
    )
    for channel in channels:
        removed = remove_others(s3, bucket, channel.prefix, channel.key)
        if removed:
            say(f"removed {removed} older object(s) under s3://{bucket}/{channel.prefix}")
    return manifest


# --- manifest checks (recpack verify --manifest) ---------------------------------------------------


def load_manifest(location: str, endpoint_url: str | None = None) -> dict:
    """A manifest.json from a path or an s3://bucket/key URI."""
    import json

    try:
        if location.startswith("s3://"):
            bucket, _, key = location[5:].partition("/")
            try:
                text = s3_client(endpoint_url).get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as exc:
                raise _explain(exc, f"reading {location}") from None
        else:
            with open(location, "rb") as f:
                text = f.read()
        manifest = json.loads(text)
    except OSError as exc:
        raise VerifyFailed(f"{location}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise VerifyFailed(f"{location}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not all(
        isinstance(manifest.get(k), dict) for k in ("train", "validation")
    ):
        raise VerifyFailed(
            f"{location}: not a recpack manifest (no 'train' and 'validation' entries)"
        )
    return manifest


def check_against_manifest(result: VerifyResult, manifest: dict, location: str) -> str:
    """Which channel of the manifest the verified file is, or an error naming every disagreement."""
    sha256 = file_checksums(result.rec_path, 1 << 23)[0]
    name = os.path.basename(result.rec_path)
    for channel, count_key in (
        ("train", "num_training_samples"),
        ("validation", "num_validation_samples"),
    ):
        entry = manifest[channel]
        if entry.get("sha256") != sha256:
            continue
        problems = []
        if entry.get("records") != result.records:
            problems.append(f"its {channel} entry says {entry.get('records')} records")
        if count_key in manifest and manifest[count_key] != result.records:
            problems.append(f"{count_key} is {manifest[count_key]}")
        if problems:
            raise VerifyFailed(
                f"{location} disagrees with {name}, which holds {result.records} records: "
                + "; ".join(problems)
                + "; upload the files again with 'recpack upload'"
            )
        return f"{name}: matches the {channel} entry of {location} ({result.records} records, SHA-256 equal)"
    raise VerifyFailed(
        f"{name} (SHA-256 {sha256[:12]}...) is neither the train ({str(manifest['train'].get('sha256'))[:12]}...) "
        f"nor the validation ({str(manifest['validation'].get('sha256'))[:12]}...) file of {location}"
    )


# --- pipeline ------------------------------------------------------------------------------------


def is_archive(key: str) -> bool:
    return key.lower().endswith(ARCHIVE_SUFFIXES)


def newest_archive(s3, bucket: str, raw_prefix: str) -> str:
    try:
        objects = [o for o in _list_keys(s3, bucket, raw_prefix) if is_archive(o["Key"])]
    except Exception as exc:
        raise _explain(exc, f"listing s3://{bucket}/{raw_prefix}") from None
    if not objects:
        raise CloudError(
            f"no {', '.join(ARCHIVE_SUFFIXES)} archive under s3://{bucket}/{raw_prefix}; "
            "upload the raw images there first"
        )
    return max(objects, key=lambda o: (o["LastModified"], o["Key"]))["Key"]


def _archive_stem(key: str) -> str:
    name = posixpath.basename(key)
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "dataset"


def extract_archive(archive: str, destination: str) -> None:
    """Unpack a .zip or .tar[.gz] refusing members that would land outside `destination`."""
    os.makedirs(destination, exist_ok=True)
    top = os.path.realpath(destination)
    try:
        if archive.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.infolist():
                    target = os.path.realpath(os.path.join(top, member.filename))
                    if member.filename.startswith(("/", "\\")) or not (
                        target == top or target.startswith(top + os.sep)
                    ):
                        raise CloudError(
                            f"{archive}: member {member.filename!r} would be written outside the "
                            "extraction folder; refusing the archive"
                        )
                    if (member.external_attr >> 16) & 0o170000 == 0o120000:
                        raise CloudError(
                            f"{archive}: member {member.filename!r} is a symbolic link; refusing it"
                        )
                bundle.extractall(top)
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(top, filter="data")
    except CloudError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise CloudError(f"{archive}: cannot extract: {exc}") from None


def find_dataset_root(folder: str) -> str:
    """The ROOT to list inside an extracted archive: through single wrapper folders, to images/."""
    from .dataset.metadata import METADATA_FILES

    current = folder
    while True:
        entries = [e for e in os.listdir(current) if not e.startswith(".") and e != "__MACOSX"]
        if all(os.path.isfile(os.path.join(current, m)) for m in METADATA_FILES):
            return current
        subdirs = [e for e in entries if os.path.isdir(os.path.join(current, e))]
        if "images" in subdirs:
            return os.path.join(current, "images")
        if len(entries) == 1 and subdirs:
            current = os.path.join(current, subdirs[0])
            continue
        return current


def existing_key(s3, bucket: str, key: str) -> str:
    """`key`, or its URL-decoded form when only that exists: S3 notifications URL-encode keys
    ('red flower.zip' arrives as 'red+flower.zip'), and a key may really contain '%' or '+'."""
    from urllib.parse import unquote_plus

    from botocore.exceptions import ClientError

    decoded = unquote_plus(key)
    if decoded == key:
        return key
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return key
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise _explain(exc, f"reading s3://{bucket}/{key}") from None
    return decoded


def download(s3, bucket: str, key: str, path: str) -> None:
    try:
        s3.download_file(bucket, key, path, Config=transfer_config())
    except Exception as exc:
        raise _explain(exc, f"downloading s3://{bucket}/{key}") from None


@dataclass
class PipelineSettings:
    bucket: str
    source_key: str = ""
    raw_prefix: str = "raw/"
    train_prefix: str = "train/"
    validation_prefix: str = "validation/"
    manifest_key: str = "manifest.json"
    train_ratio: float = 0.75
    resize: int = 256
    quality: int = 95
    classes: tuple = ()
    seed: int = 100
    workers: int = 0
    work_dir: str = ""
    endpoint_url: str | None = None


def run_pipeline(
    settings: PipelineSettings,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> dict:
    from .dataset.discovery import discover
    from .dataset.lists import write_lists
    from .dataset.split import SplitOptions
    from .image.transform import PackOptions
    from .pack.packer import pack_lists
    from .pack.verify import verify

    s3 = s3_client(settings.endpoint_url)
    raw_prefix = _normalise_prefix(settings.raw_prefix)
    key = settings.source_key or newest_archive(s3, settings.bucket, raw_prefix)
    key = existing_key(s3, settings.bucket, key)
    if not is_archive(key):
        raise CloudError(
            f"s3://{settings.bucket}/{key} is not a {', '.join(ARCHIVE_SUFFIXES)} archive"
        )
    work = os.path.abspath(settings.work_dir or "recpack-work")
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)
    archive = os.path.join(work, posixpath.basename(key))
    say(f"==> downloading s3://{settings.bucket}/{key}")
    download(s3, settings.bucket, key, archive)
    say(f"==> extracting {os.path.basename(archive)} ({os.path.getsize(archive) / 1e6:.1f} MB)")
    extract_archive(archive, os.path.join(work, "extracted"))
    root = find_dataset_root(os.path.join(work, "extracted"))
    say(f"==> listing {root}")
    dataset = discover(root, classes=list(settings.classes))
    for message in dataset.warnings:
        warn(message)
    prefix = os.path.join(work, "out", _archive_stem(key))
    outcome = write_lists(
        prefix, dataset, SplitOptions(train_ratio=settings.train_ratio, seed=settings.seed)
    )
    for message in outcome.warnings:
        warn(message)
    say(outcome.describe())
    if settings.train_ratio >= 1.0:
        raise CloudError(
            "train ratio 1.0 leaves no validation images; the training job needs both channels"
        )
    say("==> packing")
    options = PackOptions(resize=settings.resize, quality=settings.quality)
    pack_lists(prefix, root, options, workers=settings.workers, report=say, warn=warn)
    say("==> verifying")
    for suffix in ("_train.rec", "_val.rec"):
        say(verify(prefix + suffix).describe())
    say("==> uploading")
    return upload(
        prefix,
        settings.bucket,
        train_prefix=settings.train_prefix,
        validation_prefix=settings.validation_prefix,
        manifest_key=settings.manifest_key,
        source={"bucket": settings.bucket, "key": key},
        options={
            "train_ratio": settings.train_ratio,
            "resize": settings.resize,
            "quality": settings.quality,
            "classes": list(settings.classes),
            "seed": settings.seed,
        },
        endpoint_url=settings.endpoint_url,
        say=say,
    )
