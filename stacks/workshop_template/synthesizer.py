"""A stack synthesizer for templates deployed without CDK: file assets come from template parameters.

CDK's DefaultStackSynthesizer points every asset at the bootstrap bucket and adds the bootstrap
version parameter and rule; its BootstraplessSynthesizer refuses assets. This one gives each file
asset the location `s3://<AssetsBucketName>/<AssetsBucketPrefix><hash>.zip` (the names Workshop
Studio's `{{.AssetsBucketName}}` and `{{.AssetsBucketPrefix}}` fill) and records where the asset's
files are in the cloud assembly, so the bundle can lay them out under that key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import aws_cdk as cdk

ASSETS_BUCKET_PARAMETER = "AssetsBucketName"
ASSETS_PREFIX_PARAMETER = "AssetsBucketPrefix"
# S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens.
_BUCKET_PATTERN = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# Empty, or a key prefix ending in '/' (Workshop Studio's ends in '/').
_PREFIX_PATTERN = r"|[^/].*/"


@dataclass(frozen=True)
class FileAsset:
    """One file asset: its key under the prefix, and its files in the cloud assembly."""

    key: str
    source: str  # relative to the assembly directory
    zipped: bool  # a directory to zip (else one file, copied as is)


class AssetParameterSynthesizer(cdk.StackSynthesizer):
    """No bootstrap: no version parameter or rule, no bootstrap bucket or roles; assets from the
    AssetsBucketName/AssetsBucketPrefix parameters. Container image assets are refused."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: dict[str, FileAsset] = {}
        self._location: tuple[str, str] | None = None

    def _bucket_and_prefix(self) -> tuple[str, str]:
        # Made with the first asset: the stack exists by then (not yet when `bind` runs).
        if self._location is None:
            stack = self._bound_stack
            bucket = cdk.CfnParameter(
                stack,
                ASSETS_BUCKET_PARAMETER,
                type="String",
                description="S3 bucket holding this template's assets (Workshop Studio: "
                "{{.AssetsBucketName}}); in this account's region, readable by it",
                allowed_pattern=_BUCKET_PATTERN,
                constraint_description="must be an S3 bucket name",
            )
            prefix = cdk.CfnParameter(
                stack,
                ASSETS_PREFIX_PARAMETER,
                type="String",
                default="",
                description="Key prefix of the assets in that bucket, ending in '/' (Workshop "
                "Studio: {{.AssetsBucketPrefix}}); empty: the bucket's top level",
                allowed_pattern=_PREFIX_PATTERN,
                constraint_description="must be empty or a key prefix ending in '/'",
            )
            self._location = (bucket.value_as_string, prefix.value_as_string)
        return self._location

    def add_file_asset(
        self,
        *,
        source_hash: str,
        deploy_time: bool | None = None,
        display_name: str | None = None,
        executable: Sequence[str] | None = None,
        file_name: str | None = None,
        packaging: cdk.FileAssetPackaging | None = None,
    ) -> cdk.FileAssetLocation:
        if executable or file_name is None:
            raise ValueError(
                "the workshop template takes file assets only, not assets built by a command"
            )
        zipped = packaging == cdk.FileAssetPackaging.ZIP_DIRECTORY
        suffix = ".zip" if zipped else PurePosixPath(file_name).suffix
        key = f"{source_hash}{suffix}"
        self.assets[key] = FileAsset(key, file_name, zipped)
        bucket, prefix = self._bucket_and_prefix()
        object_key = cdk.Fn.join("", [prefix, key])
        return cdk.FileAssetLocation(
            bucket_name=bucket,
            object_key=object_key,
            http_url=cdk.Fn.join(
                "",
                [
                    "https://s3.",
                    cdk.Aws.REGION,
                    ".",
                    cdk.Aws.URL_SUFFIX,
                    "/",
                    bucket,
                    "/",
                    object_key,
                ],
            ),
            s3_object_url=cdk.Fn.join("", ["s3://", bucket, "/", object_key]),
        )

    def add_docker_image_asset(self, **_: object) -> cdk.DockerImageAssetLocation:
        raise ValueError("the workshop template has no container image assets")

    def synthesize(self, session: cdk.ISynthesisSession) -> None:
        # The template only: no assets manifest for cdk-assets, no bootstrap requirements.
        self._synthesize_template(session)
        self._emit_artifact(session)
