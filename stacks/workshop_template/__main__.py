"""`python -m stacks.workshop_template`: see bundle.py. Exit codes: 0 written, 1 error, 2 usage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stacks.config import SettingsError
from stacks.config.context import cdk_json_context, with_overrides
from stacks.config.parameters import ParameterError

from .bundle import BundleError, write_bundle

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "dist" / "workshop"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make workshop-template",
        description="Write the workshop template (no CDK bootstrap), its assets and a Workshop "
        "Studio contentspec snippet.",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder (default dist/workshop)"
    )
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for this template, as `cdk -c` takes it (workshop.training.jobNamePrefix=x)",
    )
    args = parser.parse_args(argv)
    try:
        context = with_overrides(cdk_json_context(), args.context)
        template = write_bundle(context, args.out)
    except SettingsError as error:
        print(f"workshop-template: invalid setting {error}", file=sys.stderr)
        return 1
    except (BundleError, ParameterError, OSError) as error:
        print(f"workshop-template: error: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        # CDK's synth refusing the app (a cdk-nag finding): its report follows the first line.
        print(f"workshop-template: synth failed: {error}", file=sys.stderr)
        return 1
    print(
        f"wrote {template.parent.parent}: {template.relative_to(template.parent.parent)}, assets/, contentspec.yaml"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
