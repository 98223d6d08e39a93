"""`recpack verify`: read a .rec through its .idx and sequentially, and decode every image."""

from __future__ import annotations

import io
import os
from collections import Counter
from dataclasses import dataclass, field

from .errors import VerifyFailed
from .format import recordio


@dataclass
class VerifyResult:
    rec_path: str
    records: int = 0
    label_counts: Counter = field(default_factory=Counter)
    min_size: tuple[int, int] | None = None
    max_size: tuple[int, int] | None = None
    indexed: bool = False
    min_side: int = 0  # the training shape's side; 0: not checked
    small: list = field(default_factory=list)  # (record id, width, height) below min_side

    def describe(self) -> str:
        labels = ", ".join(
            f"{_format_label(label)}: {count}" for label, count in sorted(self.label_counts.items())
        )
        sizes = ""
        if self.min_size:
            sizes = (
                f"; image sizes from {self.min_size[0]}x{self.min_size[1]} "
                f"to {self.max_size[0]}x{self.max_size[1]}"
            )
        via = "index and sequential read agree" if self.indexed else "no .idx, sequential read only"
        text = (
            f"{os.path.basename(self.rec_path)}: OK, {self.records} records ({via}){sizes}\n"
            f"  records per label: {labels}"
        )
        if self.small:
            shown = ", ".join(f"id {i} ({w}x{h})" for i, w, h in self.small[:5])
            more = f" and {len(self.small) - 5} more" if len(self.small) > 5 else ""
            text += (
                f"\n  warning: {len(self.small)} images are smaller than {self.min_side} px on a side, the "
                f"training image_shape: {shown}{more}; the algorithm fails on them (pack with --resize "
                f"{self.min_side} or more)"
            )
        return text


def _format_label(label) -> str:
    if isinstance(label, tuple):
        return "(" + ",".join(f"{x:g}" for x in label) + ")"
    return f"{label:g}"


def _decode(payload: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(payload)) as image:
        size = image.size
        # Decoding at reduced scale still reads every byte of the entropy-coded data.
        image.draft(image.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
        image.load()
    return size


def verify(rec_path: str, idx_path: str | None = None, min_side: int = 224) -> VerifyResult:
    if not os.path.isfile(rec_path):
        raise VerifyFailed(f"{rec_path}: no such file")
    idx_path = idx_path or os.path.splitext(rec_path)[0] + ".idx"
    result = VerifyResult(rec_path, min_side=min_side)
    index = recordio.read_index(idx_path) if os.path.isfile(idx_path) else None
    result.indexed = index is not None
    keys_at: dict[int, int] = {}
    if index is not None:
        for key, offset in index:
            if offset in keys_at:
                raise VerifyFailed(
                    f"{idx_path}: keys {keys_at[offset]} and {key} both point at offset {offset}"
                )
            keys_at[offset] = key
    seen_offsets = set()
    with recordio.RecordReader(rec_path) as reader:
        number = 0
        for offset, payload in reader:
            number += 1
            where = f"{rec_path}: record {number} at byte offset {offset}"
            try:
                header, image = recordio.unpack(payload)
            except recordio.RecordIOError as exc:
                raise VerifyFailed(f"{where}: {exc}") from None
            if index is not None:
                if offset not in keys_at:
                    raise VerifyFailed(f"{where}: not in {os.path.basename(idx_path)}")
                if keys_at[offset] != header.id:
                    raise VerifyFailed(
                        f"{where}: header id {header.id} but the index key is {keys_at[offset]}"
                    )
                seen_offsets.add(offset)
            try:
                size = _decode(image)
            except (
                Exception
            ) as exc:  # any decoder failure is a corrupt record, reported by position
                raise VerifyFailed(
                    f"{where} (id {header.id}): image does not decode: {exc}"
                ) from None
            if min(size) < min_side:
                result.small.append((header.id, *size))
            label = header.label if header.flag == 0 else tuple(header.label)
            result.label_counts[label] += 1
            result.min_size = (
                size
                if result.min_size is None
                else min(result.min_size, size, key=lambda s: s[0] * s[1])
            )
            result.max_size = (
                size
                if result.max_size is None
                else max(result.max_size, size, key=lambda s: s[0] * s[1])
            )
        result.records = number
    if index is not None:
        missing = sorted(set(keys_at) - seen_offsets)
        if missing:
            raise VerifyFailed(
                f"{idx_path}: key {keys_at[missing[0]]} points at offset {missing[0]}, "
                "where no record starts"
            )
    if result.records == 0:
        raise VerifyFailed(f"{rec_path}: holds no records")
    return result


def load_manifest(location: str, endpoint_url: str | None = None) -> dict:
    """A manifest.json from a path or an s3://bucket/key URI."""
    import json

    try:
        if location.startswith("s3://"):
            from .cloud import _explain, s3_client

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
    from .cloud import file_checksums

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
