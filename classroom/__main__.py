import os
import sys

# Reading the settings loads aws-cdk-lib, whose jsii runtime prints a banner for Node 20 on every
# start (the Makefile silences it the same way for every target).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from classroom.cli import main  # noqa: E402

sys.exit(main())
