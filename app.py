#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` runs this with the cdk.json context (and any `-c` values)."""

import sys

from stacks.config import SettingsError
from stacks.workshop_stack import create_app


def main() -> int:
    try:
        app = create_app()
    except SettingsError as error:
        # One line naming the setting; a traceback would bury it.
        print(f"Invalid setting {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
