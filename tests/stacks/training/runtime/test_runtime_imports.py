"""The Lambda runtime imports only the standard library, boto3/botocore and its own modules: the
Lambda's code asset holds nothing else (no aws_cdk, no recpack, no `stacks` package)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[4] / "stacks" / "training" / "runtime"
ALLOWED = set(sys.stdlib_module_names) | {"boto3", "botocore"}
MODULES = sorted(RUNTIME.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_runtime_module_imports_only_what_the_lambda_has(path):
    assert imported_roots(path) <= ALLOWED


def test_every_runtime_module_is_checked():
    names = {path.name for path in MODULES}
    assert {"prepare.py", "report.py", "preflight.py", "specs.py", "hyperparameters.py"} <= names
