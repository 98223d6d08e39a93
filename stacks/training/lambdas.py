"""How the training component makes a Lambda function from its runtime (`runtime/`): one code
asset (CDK stores identical assets once), Python 3.12 on arm64, and for each function its own role
(no managed policies) and its own log group, so every permission is one its handler uses."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.common.logs import log_group
from stacks.common.nag import acknowledge

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
RUNTIME = lambda_.Runtime.PYTHON_3_12


def runtime_code() -> lambda_.Code:
    # Tests and caches stay out of the zip.
    return lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["**/__pycache__", "**/*.pyc"])


def runtime_function(
    scope: Construct,
    name: str,
    *,
    handler: str,
    description: str,
    timeout: cdk.Duration,
    environment: dict[str, str],
    log_retention_days: int,
) -> lambda_.Function:
    """`workshop_runtime.<module>.handler` as a function named `name` under `scope`."""
    logs = log_group(scope, f"{name}Logs", retention_days=log_retention_days)
    role = iam.Role(scope, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    logs.grant_write(role)
    function = lambda_.Function(
        scope,
        name,
        description=description,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=runtime_code(),
        timeout=timeout,
        memory_size=256,
        environment=environment or None,
        role=role,
        log_group=logs,
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        "The training runtime is written and tested for Python 3.12 (docs/contracts.md), which "
        "Lambda supports until 2028; moving to a newer runtime is a tested change of its own.",
    )
    return function
