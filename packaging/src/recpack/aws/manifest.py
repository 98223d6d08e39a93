"""manifest.json: what `recpack upload` published (docs/contracts.md), read by the training Lambda
and by `recpack verify --manifest`.

Loading and checking live here rather than in pack/verify.py: verify reads .rec files and needs no S3.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import CloudError, VerifyFailed
from ..format import labelmap
from .checksums import sha256
from .s3 import explain, s3_client

if TYPE_CHECKING:
    from ..pack.verify import VerifyResult

SCHEMA = 1
Manifest = dict[str, Any]  # parsed JSON


class ChannelSpec(NamedTuple):
    name: str  # the channel, and its entry in the manifest
    file_suffix: str  # PREFIX + file_suffix is the local .rec
    count_key: str  # the manifest's record count for it


CHANNELS = (
    ChannelSpec("train", "_train.rec", "num_training_samples"),
    ChannelSpec("validation", "_val.rec", "num_validation_samples"),
)


@dataclass
class Channel:
    name: str  # "train" or "validation"
    local_path: str
    prefix: str
    records: int
    bytes: int
    sha256: str
    s3_checksum: str
    # Records per label of the single-label records; multi-label records are not counted here.
    labels: Counter[float] = field(default_factory=Counter)

    @property
    def key(self) -> str:
        # Content-addressed: the new file never overwrites the one the current manifest names.
        stem, ext = os.path.splitext(os.path.basename(self.local_path))
        return f"{self.prefix}{stem}-{self.sha256[:12]}{ext}"

    def entry(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "records": self.records,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }


def label_rows(prefix: str) -> list[dict[str, Any]]:
    """The label map beside PREFIX as the manifest's `labels`, counts as numbers."""
    path = prefix + labelmap.SUFFIX
    if not os.path.isfile(path):
        raise CloudError(f"{path}: the label map from 'recpack list' is missing")
    rows = []
    for number, row in enumerate(labelmap.read(path)):
        if "class_id" not in row or "name" not in row:
            raise CloudError(f"{path}: not a recpack label map (no 'class_id' and 'name' columns)")
        entry: dict[str, Any] = {
            "label": _whole(row["label"], "label", path, row),
            "class_id": row["class_id"],
            "name": row["name"],
        }
        if entry["label"] != number:
            raise CloudError(
                f"{path}: class {row['class_id']} has label {entry['label']}, expected {number}: "
                "labels run 0, 1, 2... in order; write the label map again with 'recpack list'"
            )
        for split in ("train", "val", "test", "all"):
            if split in row:
                entry[split] = _whole(row[split], split, path, row)
        rows.append(entry)
    return rows


def _whole(text: str, column: str, path: str, row: dict[str, str]) -> int:
    try:
        return int(text)
    except ValueError:
        raise CloudError(
            f"{path}: class {row.get('class_id')}: {column} {text!r} is not a whole number"
        ) from None


def build(
    train: Channel,
    validation: Channel,
    labels: list[dict[str, Any]],
    options: dict[str, Any],
    source: dict[str, str],
) -> Manifest:
    return {
        "schema": SCHEMA,
        "num_training_samples": train.records,
        "num_validation_samples": validation.records,
        "num_classes": len(labels),
        "labels": labels,
        "train": train.entry(),
        "validation": validation.entry(),
        "options": options,
        "source": source,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _read(location: str, endpoint_url: str | None) -> bytes:
    if not location.startswith("s3://"):
        with open(location, "rb") as f:
            return f.read()
    bucket, _, key = location[5:].partition("/")
    if not bucket or not key:
        raise VerifyFailed(
            f"{location}: expected s3://BUCKET/KEY, e.g. s3://{bucket or 'BUCKET'}/manifest.json"
        )
    try:
        body: bytes = s3_client(endpoint_url).get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        raise explain(exc, f"reading {location}") from None
    return body


def load(location: str, endpoint_url: str | None = None) -> Manifest:
    """A manifest.json from a path or an s3://bucket/key URI."""
    try:
        manifest = json.loads(_read(location, endpoint_url))
    except FileNotFoundError:
        raise VerifyFailed(
            f"{location}: no such file (a manifest in S3 is given as s3://BUCKET/KEY)"
        ) from None
    except OSError as exc:
        raise VerifyFailed(f"{location}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise VerifyFailed(f"{location}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not all(
        isinstance(manifest.get(channel.name), dict) for channel in CHANNELS
    ):
        raise VerifyFailed(
            f"{location}: not a recpack manifest (no 'train' and 'validation' entries)"
        )
    return manifest


def check(result: VerifyResult, manifest: Manifest, location: str) -> str:
    """Which channel of the manifest the verified file is, or an error naming every disagreement."""
    digest = sha256(result.rec_path)
    name = os.path.basename(result.rec_path)
    for channel in CHANNELS:
        entry = manifest[channel.name]
        if entry.get("sha256") != digest:
            continue
        problems = []
        if entry.get("records") != result.records:
            problems.append(f"its {channel.name} entry says {entry.get('records')} records")
        if channel.count_key in manifest and manifest[channel.count_key] != result.records:
            problems.append(f"{channel.count_key} is {manifest[channel.count_key]}")
        if problems:
            raise VerifyFailed(
                f"{location} disagrees with {name}, which holds {result.records} records: "
                + "; ".join(problems)
                + "; upload the files again with 'recpack upload'"
            )
        return (
            f"{name}: matches the {channel.name} entry of {location} "
            f"({result.records} records, SHA-256 equal)"
        )
    raise VerifyFailed(
        f"{name} (SHA-256 {digest[:12]}...) is neither the train "
        f"({str(manifest['train'].get('sha256'))[:12]}...) nor the validation "
        f"({str(manifest['validation'].get('sha256'))[:12]}...) file of {location}"
    )
