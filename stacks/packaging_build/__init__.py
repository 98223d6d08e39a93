"""CodeBuild project that turns a raw image archive into the train/validation RecordIO channels."""

from .packaging_build import (
    Layout,
    PackagingBuild,
    PipelineOptions,
    archive_key_patterns,
    build_command,
)

__all__ = ["Layout", "PackagingBuild", "PipelineOptions", "archive_key_patterns", "build_command"]
