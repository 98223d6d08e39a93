"""`recpack upload` and `recpack pipeline` argument parsing."""

from __future__ import annotations

import argparse
import os


def _add_bucket_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bucket", required=True, help="the workshop bucket")
    parser.add_argument(
        "--train-prefix", default="train/", help="train channel prefix (default: train/)"
    )
    parser.add_argument(
        "--validation-prefix",
        default="validation/",
        help="validation channel prefix (default: validation/)",
    )
    parser.add_argument(
        "--manifest-key",
        default="manifest.json",
        help="manifest object key (default: manifest.json)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="S3 endpoint, e.g. a local emulator (default: $AWS_ENDPOINT_URL or AWS)",
    )


def run_upload(args) -> int:
    from .aws.upload import upload

    source = {"key": args.source_key} if args.source_key else {}
    upload(
        args.prefix,
        args.bucket,
        train_prefix=args.train_prefix,
        validation_prefix=args.validation_prefix,
        manifest_key=args.manifest_key,
        source=source,
        endpoint_url=args.endpoint_url,
    )
    return 0


def run_pipeline(args) -> int:
    from .aws.pipeline import PipelineSettings
    from .aws.pipeline import run_pipeline as pipeline
    from .cli import _class_tokens, _warn

    pipeline(
        PipelineSettings(
            bucket=args.bucket,
            source_key=args.source_key or "",
            raw_prefix=args.raw_prefix,
            train_prefix=args.train_prefix,
            validation_prefix=args.validation_prefix,
            manifest_key=args.manifest_key,
            train_ratio=args.train_ratio,
            resize=args.resize,
            quality=args.quality,
            classes=tuple(_class_tokens(args.classes)),
            seed=args.seed,
            workers=args.workers,
            work_dir=args.work_dir,
            endpoint_url=args.endpoint_url,
        ),
        warn=_warn,
    )
    return 0


def add_cloud_commands(commands) -> None:
    from .cli import _bounded_int, _ratio

    p = commands.add_parser(
        "upload",
        help="upload PREFIX_train.rec and PREFIX_val.rec as the training channels, with a manifest",
        description="Put PREFIX_train.rec under the train prefix and PREFIX_val.rec under the validation prefix, "
        "removing everything else there (each channel must hold exactly one .rec), then write "
        "manifest.json with the record counts and label map.",
    )
    p.add_argument(
        "prefix", metavar="PREFIX", help="prefix given to 'recpack list' and 'recpack pack'"
    )
    _add_bucket_options(p)
    p.add_argument(
        "--source-key", default="", help="raw archive the files came from, recorded in the manifest"
    )
    p.set_defaults(run=run_upload)

    p = commands.add_parser(
        "pipeline",
        help="download a raw image archive from S3, list, pack, verify and upload it",
        description="The packaging build in one command: take the raw archive (.zip, .tar, .tar.gz, .tgz) "
        "named by --source-key, or the newest under --raw-prefix, and publish the training channels.",
    )
    _add_bucket_options(p)
    p.add_argument(
        "--source-key",
        default="",
        help="archive key (default: the newest archive under --raw-prefix)",
    )
    p.add_argument(
        "--raw-prefix", default="raw/", help="where raw archives are uploaded (default: raw/)"
    )
    p.add_argument("--train-ratio", type=_ratio, default=0.75, help="default: 0.75")
    p.add_argument("--resize", type=_bounded_int(0), default=256, help="default: 256")
    p.add_argument("--quality", type=_bounded_int(1, 100), default=95, help="default: 95")
    p.add_argument(
        "--classes", action="append", metavar="ID_OR_NAME[,...]", help="only these classes"
    )
    p.add_argument("--seed", type=int, default=100, help="split seed (default: 100)")
    p.add_argument("--workers", type=_bounded_int(1), default=0, help="default: all cores")
    p.add_argument(
        "--work-dir",
        default="recpack-work",
        help="scratch folder, emptied first (default: ./recpack-work)",
    )
    p.set_defaults(run=run_pipeline)
