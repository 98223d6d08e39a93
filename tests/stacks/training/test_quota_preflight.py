"""QuotaPreflight on a bare stack: the custom resource's properties, rerun on every deploy when
asked, and a provider that may invoke only the preflight function."""

from __future__ import annotations

import re

from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from stacks.training.quota_preflight import SYNTH_TIME_PROPERTY, QuotaPreflight

from ..conftest import bare_stack, open_findings


def preflight_in_stack(**overrides):
    stack = bare_stack()
    handler = lambda_.Function(
        stack,
        "Handler",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): return {}"),
    )
    properties = dict(
        handler=handler,
        instance_types=("ml.g4dn.xlarge", "ml.g5.xlarge"),
        request_quota_increase=False,
        require_gpu_quota=False,
        run_on_every_deploy=True,
        log_retention_days=30,
    )
    preflight = QuotaPreflight(stack, "QuotaPreflight", **{**properties, **overrides})
    return preflight, Template.from_stack(stack)


def test_the_resource_passes_the_preference_list_and_flags():
    _, template = preflight_in_stack(request_quota_increase=True)
    template.has_resource_properties(
        "Custom::GpuQuotaPreflight",
        {
            "InstanceTypes": ["ml.g4dn.xlarge", "ml.g5.xlarge"],
            "RequestQuotaIncrease": "true",
            "RequireGpuQuota": "false",
            SYNTH_TIME_PROPERTY: Match.string_like_regexp(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"),
        },
    )


def test_without_every_deploy_the_properties_change_only_with_the_settings():
    preflight, template = preflight_in_stack(run_on_every_deploy=False, require_gpu_quota=True)
    (resource,) = template.find_resources("Custom::GpuQuotaPreflight").values()
    assert SYNTH_TIME_PROPERTY not in resource["Properties"]
    assert resource["Properties"]["RequireGpuQuota"] == "true"
    assert re.fullmatch(r"\$\{Token\[.*\]\}", preflight.instance_type)


def test_the_provider_acknowledges_its_own_findings():
    preflight, _ = preflight_in_stack()
    assert open_findings(preflight) == []
