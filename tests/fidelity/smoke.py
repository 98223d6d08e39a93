"""`make smoke`: on a deployed stack, with real AWS credentials, upload a tiny generated image archive
and wait until the packaging build has written the manifest for it.

It proves in a few minutes what no emulator can: the bucket's EventBridge events reach the rule, the
rule's role may start the build, CodeBuild fetches its source and installs recpack, and the build
role may read the archive and write the channels and manifest. It refuses to run on a stack that
already holds packaged images (the tiny set would replace them) unless --force is given, and
removes the archive it uploaded. Every problem is one line on stderr and exit code 1.

    make smoke [STACK=BirdsWorkshop] [REGION=eu-west-1] [TIMEOUT=900] [FORCE=1]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIRED_OUTPUTS = ("BucketName", "RawImagesUri", "PackagingProjectName")


class SmokeError(Exception):
    """One line for the instructor: what failed and what to look at."""


def settings() -> dict:
    try:
        return json.loads((REPO / "cdk.json").read_text())["context"]["workshop"]
    except (OSError, KeyError, ValueError):
        return {}


def tiny_archive(classes: int = 2, per_class: int = 8) -> bytes:
    """images/<class>/*.jpg, a few hundred bytes each: enough for a stratified train/validation split."""
    from PIL import Image

    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as bundle:
        for label in range(classes):
            for number in range(per_class):
                image = Image.new("RGB", (48, 40), (120 * label, 20 * number, 90))
                jpeg = io.BytesIO()
                image.save(jpeg, "JPEG")
                bundle.writestr(f"smoke/images/{label + 1:04d}/{number:03d}.jpg", jpeg.getvalue())
    return data.getvalue()


def stack_outputs(cloudformation, stack: str, region: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise SmokeError(
            f"stack {stack} not found in {region} ({message}); deploy it or pass STACK=/REGION="
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        raise SmokeError(
            f"stack {stack} in {region} has no output {missing[0]}: is it a workshop stack?"
        )
    return outputs


def manifest_state(s3, bucket: str, key: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise SmokeError(f"cannot read s3://{bucket}/{key}: {error}") from None


def failed_build(codebuild, project: str, since: datetime) -> str | None:
    """The first line about a build of the project that started after the upload and failed."""
    try:
        ids = codebuild.list_builds_for_project(projectName=project, sortOrder="DESCENDING")["ids"][
            :5
        ]
        builds = codebuild.batch_get_builds(ids=ids)["builds"] if ids else []
    except Exception:  # noqa: BLE001 - reading build status is a courtesy, the manifest decides
        return None
    for build in builds:
        if (
            build.get("startTime")
            and build["startTime"] >= since
            and build.get("buildStatus")
            in (
                "FAILED",
                "FAULT",
                "TIMED_OUT",
                "STOPPED",
            )
        ):
            phase = next(
                (
                    p["phaseType"]
                    for p in build.get("phases", [])
                    if p.get("phaseStatus") not in (None, "SUCCEEDED")
                ),
                "?",
            )
            logs = build.get("logs", {}).get("deepLink", "its CloudWatch logs")
            return (
                f"packaging build {build['id']} {build['buildStatus']} in phase {phase}; see {logs}"
            )
    return None


def run(args: argparse.Namespace, say=print) -> None:
    import boto3

    session = boto3.session.Session(region_name=args.region)
    region = session.region_name
    if not region:
        raise SmokeError("no AWS region: pass REGION=<region> or configure a default region")
    clients = {"endpoint_url": args.endpoint_url} if args.endpoint_url else {}
    cloudformation = session.client("cloudformation", **clients)
    s3 = session.client("s3", **clients)
    outputs = stack_outputs(cloudformation, args.stack, region)
    bucket = outputs["BucketName"]
    raw_bucket, raw_prefix = outputs["RawImagesUri"].removeprefix("s3://").split("/", 1)
    if raw_bucket != bucket:
        raise SmokeError(f"RawImagesUri {outputs['RawImagesUri']} is not in bucket {bucket}")
    before = manifest_state(s3, bucket, args.manifest_key)
    if before is not None and not args.force:
        source = before.get("source", {}).get("key", "?")
        raise SmokeError(
            f"s3://{bucket}/{args.manifest_key} already describes packaged images (from {source}); the smoke "
            "test would replace them with its tiny set: run it before the workshop's upload, or FORCE=1"
        )
    started = datetime.now(UTC)
    key = f"{raw_prefix}smoke-{started:%Y%m%d-%H%M%S}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=tiny_archive())
    say(
        f"uploaded s3://{bucket}/{key}; waiting up to {args.timeout} s for the packaging build's manifest"
    )
    codebuild = session.client("codebuild", **clients)
    deadline = time.monotonic() + args.timeout
    try:
        while True:
            manifest = manifest_state(s3, bucket, args.manifest_key)
            if manifest and manifest.get("source", {}).get("key") == key:
                elapsed = (datetime.now(UTC) - started).total_seconds()
                say(
                    f"ok: s3://{bucket}/{args.manifest_key} after {elapsed:.0f} s: {manifest['num_classes']} classes, "
                    f"{manifest['num_training_samples']} train / {manifest['num_validation_samples']} validation records"
                )
                return
            failure = failed_build(codebuild, outputs["PackagingProjectName"], started)
            if failure:
                raise SmokeError(failure)
            if time.monotonic() > deadline:
                raise SmokeError(
                    f"no manifest for {key} after {args.timeout} s: check that the upload started a build "
                    f"(aws codebuild list-builds-for-project --project-name {outputs['PackagingProjectName']} "
                    f"--region {region}) and its logs"
                )
            time.sleep(args.interval)
    finally:
        s3.delete_object(Bucket=bucket, Key=key)


def parser() -> argparse.ArgumentParser:
    workshop = settings()
    result = argparse.ArgumentParser(prog="make smoke", description=__doc__.split("\n\n")[0])
    result.add_argument("--stack", default=workshop.get("stackName", "BirdsWorkshop"))
    result.add_argument("--region", default=None, help="default: the AWS CLI's configured region")
    result.add_argument("--manifest-key", default=workshop.get("manifestKey", "manifest.json"))
    result.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait (default 900)"
    )
    result.add_argument("--interval", type=float, default=10.0, help=argparse.SUPPRESS)
    result.add_argument("--endpoint-url", default=None, help=argparse.SUPPRESS)
    result.add_argument("--force", action="store_true", help="run even if packaged images exist")
    return result


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        run(args)
    except SmokeError as error:
        print(f"smoke: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("smoke: error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - credentials, network: their words, one line
        print(f"smoke: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
