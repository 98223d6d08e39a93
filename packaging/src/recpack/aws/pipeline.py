"""`recpack pipeline`, the packaging build CodeBuild runs: take the raw archive from S3, list, pack,
verify, and publish the training channels with their manifest."""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from .. import defaults
from ..dataset.discovery import discover
from ..dataset.lists import write_lists
from ..dataset.split import SplitOptions
from ..errors import CloudError
from ..files.ownership import claim_folder
from ..image.transform import PackOptions
from ..pack.packer import pack_lists
from ..pack.verify import verify
from .archive import archive_stem, extract_archive, find_dataset_root, is_archive
from .manifest import CHANNELS, Manifest
from .s3 import S3Client, download, existing_key, explain, list_objects, normalise_prefix, s3_client
from .upload import upload


@dataclass
class PipelineSettings:
    bucket: str
    source_key: str = ""  # empty: the newest archive under raw_prefix
    raw_prefix: str = defaults.RAW_PREFIX
    train_prefix: str = defaults.TRAIN_PREFIX
    validation_prefix: str = defaults.VALIDATION_PREFIX
    manifest_key: str = defaults.MANIFEST_KEY
    train_ratio: float = defaults.PIPELINE_TRAIN_RATIO
    resize: int = defaults.PIPELINE_RESIZE
    quality: int = defaults.QUALITY
    classes: tuple[str, ...] = ()
    seed: int = defaults.SEED
    workers: int = defaults.WORKERS
    work_dir: str = defaults.PIPELINE_WORK_DIR
    endpoint_url: str | None = None


def newest_archive(s3: S3Client, bucket: str, raw_prefix: str) -> str:
    try:
        objects = [o for o in list_objects(s3, bucket, raw_prefix) if is_archive(o["Key"])]
    except Exception as exc:
        raise explain(exc, f"listing s3://{bucket}/{raw_prefix}") from None
    if not objects:
        raise CloudError(
            f"no {', '.join(defaults.ARCHIVE_SUFFIXES)} archive under s3://{bucket}/{raw_prefix}; "
            "upload the raw images there first"
        )
    newest: str = max(objects, key=lambda o: (o["LastModified"], o["Key"]))["Key"]
    return newest


def _archive_key(s3: S3Client, settings: PipelineSettings) -> str:
    """The key of the archive to package: the one named, or the newest under the raw prefix."""
    raw_prefix = normalise_prefix(settings.raw_prefix)
    key = settings.source_key or newest_archive(s3, settings.bucket, raw_prefix)
    key = existing_key(s3, settings.bucket, key)
    if not is_archive(key):
        raise CloudError(
            f"s3://{settings.bucket}/{key} is not a {', '.join(defaults.ARCHIVE_SUFFIXES)} archive"
        )
    return key


# What the pipeline writes inside its work folder; a re-run removes these and nothing else.
_DOWNLOAD, _EXTRACTED, _OUT = "download", "extracted", "out"


def _prepare_work_dir(settings: PipelineSettings) -> str:
    """The work folder, claimed (new, empty, or marked by an earlier run) and cleared of what an
    earlier run wrote there. A folder of the user's is refused, never emptied."""
    work = claim_folder(
        settings.work_dir or defaults.PIPELINE_WORK_DIR, "pipeline work folder", "--work-dir"
    )
    for name in (_DOWNLOAD, _EXTRACTED, _OUT):
        path = os.path.join(work, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
    return work


def _list_pack_verify(
    root: str,
    prefix: str,
    settings: PipelineSettings,
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> None:
    """PREFIX_train.rec and PREFIX_val.rec from the dataset under ROOT, read back and checked."""
    say(f"==> listing {root}")
    dataset = discover(root, classes=list(settings.classes))
    for message in dataset.warnings:
        warn(message)
    split = SplitOptions(train_ratio=settings.train_ratio, seed=settings.seed)
    outcome = write_lists(prefix, dataset, split)
    for message in outcome.warnings:
        warn(message)
    say(outcome.describe())
    say("==> packing")
    options = PackOptions(resize=settings.resize, quality=settings.quality)
    pack_lists(prefix, root, options, workers=settings.workers, report=say, warn=warn)
    say("==> verifying")
    for channel in CHANNELS:
        say(verify(prefix + channel.file_suffix).describe())


def run_pipeline(
    settings: PipelineSettings,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> Manifest:
    if not 0 < settings.train_ratio < 1:
        raise CloudError(
            f"train ratio {settings.train_ratio:g} must be between 0 and 1 (exclusive): the "
            "training job needs both a train and a validation channel"
        )
    work = _prepare_work_dir(settings)  # a local mistake is found before any download
    s3 = s3_client(settings.endpoint_url)
    key = _archive_key(s3, settings)
    os.makedirs(os.path.join(work, _DOWNLOAD))
    archive = os.path.join(work, _DOWNLOAD, posixpath.basename(key))
    say(f"==> downloading s3://{settings.bucket}/{key}")
    download(s3, settings.bucket, key, archive)
    say(f"==> extracting {os.path.basename(archive)} ({os.path.getsize(archive) / 1e6:.1f} MB)")
    extract_archive(archive, os.path.join(work, _EXTRACTED))
    root = find_dataset_root(os.path.join(work, _EXTRACTED))
    prefix = os.path.join(work, _OUT, archive_stem(key))
    _list_pack_verify(root, prefix, settings, say, warn)
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
