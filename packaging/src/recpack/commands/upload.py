"""`recpack upload PREFIX --bucket BUCKET`: the packed channels and their manifest into the bucket."""

from __future__ import annotations

import argparse

from ..cli.options import add_bucket_options, add_source_key
from ..errors import EXIT_OK

DESCRIPTION = (
    "Put PREFIX_train.rec under the train prefix and PREFIX_val.rec under the validation prefix, "
    "removing everything else there (each channel must hold exactly one .rec), then write "
    "manifest.json with the record counts and label map."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "prefix", metavar="PREFIX", help="prefix given to 'recpack list' and 'recpack pack'"
    )
    add_bucket_options(parser)
    add_source_key(parser, "raw archive the files came from, recorded in the manifest")


def run(args: argparse.Namespace) -> int:
    from ..aws.upload import upload

    upload(
        args.prefix,
        args.bucket,
        train_prefix=args.train_prefix,
        validation_prefix=args.validation_prefix,
        manifest_key=args.manifest_key,
        source={"key": args.source_key} if args.source_key else {},
        endpoint_url=args.endpoint_url,
    )
    return EXIT_OK
