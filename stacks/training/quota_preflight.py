"""Deploy-time GPU quota preflight: which training instance type would be used right now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.common.logs import log_group
from stacks.common.nag import acknowledge_wildcard

SYNTH_TIME_PROPERTY = "SynthesizedAt"


class QuotaPreflight(Construct):
    """A custom resource run by `cdk deploy`; it fails the deploy only with requireGpuQuota."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        instance_types: Sequence[str],
        request_quota_increase: bool,
        require_gpu_quota: bool,
        run_on_every_deploy: bool,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        framework_logs = log_group(self, "ProviderLogs", retention_days=log_retention_days)
        # Our own role keeps the managed AWSLambdaBasicExecutionRole policy off the framework function.
        self.framework_role = framework_role = iam.Role(
            self, "ProviderRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        framework_logs.grant_write(framework_role)
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=handler,
            log_group=framework_logs,
            framework_on_event_role=framework_role,
        )
        acknowledge_wildcard(
            framework_role.node.find_child("DefaultPolicy"),
            f"{handler.function_arn}:*",
            "The custom-resource provider invokes only the preflight function (any version).",
        )
        self.properties = properties = {
            "InstanceTypes": list(instance_types),
            "RequestQuotaIncrease": "true" if request_quota_increase else "false",
            "RequireGpuQuota": "true" if require_gpu_quota else "false",
        }
        if run_on_every_deploy:
            # CloudFormation calls a custom resource only when its properties change: a new value per
            # synth makes every `cdk deploy` read the quotas again (say, after an increase came through).
            properties[SYNTH_TIME_PROPERTY] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.resource = cdk.CustomResource(
            self,
            "Result",
            service_token=self.provider.service_token,
            resource_type="Custom::GpuQuotaPreflight",
            properties=properties,
        )
        self.instance_type = self.resource.get_att_string("InstanceType")
        self.summary = self.resource.get_att_string("Summary")
