#!/usr/bin/env python3
"""A stand-in for the CDK CLI: records each run (arguments, credentials it would use, start and end
times) as a JSON line in $FAKE_CDK_RECORD, sleeps $FAKE_CDK_SECONDS in deploy/destroy, and fails
for stack ids listed in $FAKE_CDK_FAIL (comma-separated), as the real one does: a message, exit 1.
"""

import json
import os
import sys
import time
from pathlib import Path

arguments = sys.argv[1:]
started = time.time()
command = arguments[0] if arguments else ""
stack = arguments[-1] if command in ("deploy", "destroy") else None
print(f"fake cdk {' '.join(arguments)}")
if command == "synth":
    output = Path(arguments[arguments.index("--output") + 1])
    output.mkdir(parents=True, exist_ok=True)
    (output / "manifest.json").write_text("{}")
elif command in ("deploy", "destroy"):
    time.sleep(float(os.environ.get("FAKE_CDK_SECONDS", "0.5")))
failing = stack in os.environ.get("FAKE_CDK_FAIL", "").split(",")
record = {
    "arguments": arguments,
    "stack": stack,
    "profile": os.environ.get("AWS_PROFILE"),
    "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
    "started": started,
    "ended": time.time(),
}
with open(os.environ["FAKE_CDK_RECORD"], "a") as log:
    log.write(json.dumps(record) + "\n")
if failing:
    print(f"❌  {stack} failed: Error: The stack named {stack} failed creation", file=sys.stderr)
    sys.exit(1)
