#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` runs this with the cdk.json context (and any `-c` values).

cdk.json runs it with the shell's `python3`. In a fresh shell that is not this repository's
virtualenv, so it hands over to `.venv`'s Python instead: `npx cdk deploy ...` works without
activating anything first.
"""

import importlib.util
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _venv_python() -> Path | None:
    for candidate in (HERE / ".venv" / "bin" / "python", HERE / ".venv" / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    return None


if __name__ == "__main__":
    if importlib.util.find_spec("aws_cdk") is None:
        python = _venv_python()
        in_venv = Path(sys.prefix).resolve() == (HERE / ".venv").resolve()
        if python is None or in_venv:
            sys.exit("app.py: error: aws_cdk is not installed; run `make setup` in " + str(HERE))
        os.execv(python, [str(python), str(HERE / "app.py"), *sys.argv[1:]])
    sys.path.insert(0, str(HERE))
    from stacks.app import main

    sys.exit(main())
