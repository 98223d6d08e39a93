"""How the training component makes a Lambda function from its runtime (`runtime/`): one code
asset (CDK stores identical assets once), Python 3.12 on arm64, and for each function its own role
(no managed policies) and its own log group, so every permission is one its handler uses."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.common.logs import log_group
from stacks.common.nag import acknowledge, acknowledge_wildcard

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


def custom_resource_provider(
    scope: Construct, *, handler: lambda_.IFunction, log_retention_days: int, what: str
) -> cr.Provider:
    """CDK's provider framework for a custom resource whose on_event is `handler` (`what` it is,
    for the acknowledgment), with a role and log group of our own."""
    framework_logs = log_group(scope, "ProviderLogs", retention_days=log_retention_days)
    # Our own role keeps the managed AWSLambdaBasicExecutionRole policy off the framework function.
    framework_role = iam.Role(
        scope, "ProviderRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    framework_logs.grant_write(framework_role)
    provider = cr.Provider(
        scope,
        "Provider",
        on_event_handler=handler,
        log_group=framework_logs,
        framework_on_event_role=framework_role,
    )
    acknowledge_wildcard(
        framework_role.node.find_child("DefaultPolicy"),
        f"{handler.function_arn}:*",
        f"The custom-resource provider invokes only the {what} function (any version).",
    )
    return provider
