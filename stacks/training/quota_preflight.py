"""Deploy-time GPU quota preflight: which training instance type would be used right now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.training.lambdas import custom_resource_provider

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
        self.provider = custom_resource_provider(
            self, handler=handler, log_retention_days=log_retention_days, what="preflight"
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
