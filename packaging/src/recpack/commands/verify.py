"""`recpack verify FILE.rec...`: every record read back and decoded, optionally checked against the
manifest `recpack upload` wrote."""

from __future__ import annotations

import argparse

from ..cli.options import add_endpoint_url, add_min_size
from ..errors import EXIT_OK

DESCRIPTION = (
    "Read each .rec through its .idx and sequentially, decode every image, "
    "and print counts per label and the image size range."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", metavar="FILE.rec", nargs="+")
    add_min_size(
        parser,
        0,
        "warn about images smaller than this on a side: the training image_shape",
    )
    parser.add_argument(
        "--manifest",
        metavar="PATH_OR_S3_URI",
        help="also check each file's record count and SHA-256 against this manifest.json",
    )
    add_endpoint_url(parser, "S3 endpoint for an s3:// manifest")


def run(args: argparse.Namespace) -> int:
    from ..aws import manifest as manifests
    from ..pack.verify import verify

    manifest = manifests.load(args.manifest, args.endpoint_url) if args.manifest else None
    for path in args.files:
        result = verify(path, min_side=args.min_size)
        print(result.describe())
        if manifest is not None:
            print(manifests.check(result, manifest, args.manifest))
    return EXIT_OK
