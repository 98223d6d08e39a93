"""SHA-256 of a file, whole and as S3 reports it for the upload's parts, so what S3 stored can be
checked against the local file."""

from __future__ import annotations

import base64
import hashlib
import os

from .s3 import CHUNK


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
    if os.path.getsize(path) < CHUNK:  # below s3transfer's multipart threshold: one PUT
        s3_checksum = base64.b64encode(whole.digest()).decode()
    else:
        composite = hashlib.sha256(b"".join(part_digests)).digest()
        s3_checksum = f"{base64.b64encode(composite).decode()}-{len(part_digests)}"
    return whole.hexdigest(), s3_checksum


def part_size(size: int) -> int:
    """The part size s3transfer will use for a file of `size` bytes."""
    from s3transfer.utils import ChunksizeAdjuster

    adjusted: int = ChunksizeAdjuster().adjust_chunksize(CHUNK, size)
    return adjusted


def sha256(path: str) -> str:
    return file_checksums(path, CHUNK)[0]
