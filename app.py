#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` runs this with the cdk.json context (and any `-c` values)."""

import sys

from stacks.app import main

if __name__ == "__main__":
    sys.exit(main())
