"""Deploy-time GPU quota check: a CloudFormation custom resource (cr.Provider on_event).

New accounts have a SageMaker training quota of 0 for every GPU type, and an increase takes from
minutes to days: checking at deploy time, and optionally filing the request, lets the learner find
out before the first training run. Create/Update do the work; Delete does nothing and never fails.

Resource properties: `InstanceTypes` (list, preferred first), `RequestQuotaIncrease` and
`RequireGpuQuota` ("true"/"false"). Data: `InstanceType` (first preferred type with a quota of at
least 1, or "none") and `Summary` (one line per type, plus what was done about an increase).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .clients import CLIENT_CONFIG, Client
from .quotas import (
    InstanceQuota,
    NoGpuQuotaError,
    describe_quota,
    get_training_quotas,
    get_training_usage,
    normalize_instance_type,
    open_increase_requests,
    request_increase,
)

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

__all__ = [
    "IAM_ACTIONS",
    "PHYSICAL_RESOURCE_ID",
    "GpuQuotaRequiredError",
    "PreflightPropertiesError",
    "handler",
    "on_event",
]

# Stable: a new id on Update would make CloudFormation delete the "old" resource.
PHYSICAL_RESOURCE_ID = "sagemaker-training-gpu-quota-preflight"
# What the on_event function's role needs (for the CDK grants); Service Quotas has no resource ARNs
# for these list calls, so they take "*".
IAM_ACTIONS = (
    "servicequotas:ListServiceQuotas",
    "servicequotas:ListAWSDefaultServiceQuotas",
    "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
    "servicequotas:RequestServiceQuotaIncrease",
    "sagemaker:ListTrainingJobs",
    "sagemaker:DescribeTrainingJob",
)
# A custom resource response is capped at 4 KB in all; Data must fit with the rest.
_SUMMARY_MAX = 2000


class GpuQuotaRequiredError(Exception):
    """RequireGpuQuota is true and no preferred instance type has a training quota."""


class PreflightPropertiesError(ValueError):
    """The custom resource's properties are not of the documented shape."""


def _flag(properties: Mapping, name: str) -> bool:
    # CloudFormation passes every scalar property as a string.
    value = properties.get(name, "false")
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise PreflightPropertiesError(f"{name} must be 'true' or 'false', not {value!r}")
    return text == "true"


def _instance_types(properties: Mapping) -> list[str]:
    value = properties.get("InstanceTypes")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = [part for part in value.split(",") if part.strip()]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(t, str) and t.strip() for t in value)
    ):
        raise PreflightPropertiesError(
            f"InstanceTypes must be a non-empty list of instance types, not {value!r}"
        )
    return [normalize_instance_type(t) for t in value]


def _increase_target(
    preference: list[str], quotas: Mapping[str, InstanceQuota]
) -> InstanceQuota | None:
    # The first preferred type the region offers (and whose quota code is known).
    for instance_type in preference:
        quota = quotas[instance_type]
        if quota.value is not None and quota.quota_code:
            return quota
    return None


def _handle_increase(servicequotas: Client, target: InstanceQuota | None) -> str:
    if target is None or not target.quota_code:
        return "No increase requested: none of the instance types is offered for training in this region."
    try:
        open_requests = open_increase_requests(servicequotas, target.quota_code)
        if open_requests:
            request = open_requests[0]
            return (
                f"Increase request {request.get('Id')} for '{target.name}' is already "
                f"{request.get('Status')} (desired {request.get('DesiredValue')}); not filing another."
            )
        requested = request_increase(servicequotas, target.quota_code, 1)
    except ClientError as error:
        details = error.response["Error"]
        return (
            f"Could not request '{target.name}' = 1 ({target.quota_code}): {details.get('Code')}: "
            f"{details.get('Message')}"
        )
    return (
        f"Filed increase request {requested.get('Id')} for '{target.name}' = 1 "
        f"(status {requested.get('Status')}); AWS answers by email, from minutes to days."
    )


def _summary(lines: list[str]) -> str:
    text = "\n".join(lines)
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 3] + "..."


def on_event(
    event: Mapping, *, servicequotas: Client, sagemaker: Client, region: str | None = None
) -> dict:
    request_type = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID
    if request_type == "Delete":
        return {"PhysicalResourceId": physical_id}

    properties = event.get("ResourceProperties") or {}
    preference = _instance_types(properties)
    wants_increase = _flag(properties, "RequestQuotaIncrease")
    requires_quota = _flag(properties, "RequireGpuQuota")

    try:
        quotas = get_training_quotas(servicequotas, preference)
        usage = get_training_usage(sagemaker)
    except ClientError as error:
        # The check informs; it stops a deployment only when asked to.
        if requires_quota:
            raise
        details = error.response["Error"]
        summary = f"Could not read SageMaker training quotas: {details.get('Code')}: {details.get('Message')}"
        logger.warning(summary)
        return {
            "PhysicalResourceId": physical_id,
            "Data": {"InstanceType": "none", "Summary": summary},
        }
    lines = [describe_quota(quotas[t], usage.get(t, 0)) for t in preference]
    # A job running now does not make the account unable to train: only a quota of 0 does.
    with_quota = [t for t in preference if (quotas[t].value or 0) >= 1]
    chosen = with_quota[0] if with_quota else None

    if chosen is None and wants_increase:
        lines.append(_handle_increase(servicequotas, _increase_target(preference, quotas)))
    summary = _summary(lines)
    logger.info("GPU training quota preflight (%s):\n%s", request_type, summary)

    if chosen is None and requires_quota:
        no_quota = NoGpuQuotaError(quotas, usage, preference, region)
        extra = lines[len(preference) :]
        raise GpuQuotaRequiredError(
            "\n".join(
                [str(no_quota), *extra, "RequireGpuQuota is true, so the deployment stops here."]
            )
        )
    return {
        "PhysicalResourceId": physical_id,
        "Data": {"InstanceType": chosen or "none", "Summary": summary},
    }


def handler(event: Any, context: object) -> dict:
    request_type = event.get("RequestType") if isinstance(event, Mapping) else None
    if request_type == "Delete":
        # Nothing was created; a failing Delete would block stack deletion.
        physical_id = event.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID
        logger.info("Delete of %s: nothing to do", physical_id)
        return {"PhysicalResourceId": physical_id}
    session = boto3.session.Session()
    return on_event(
        event,
        servicequotas=session.client("service-quotas", config=CLIENT_CONFIG),
        sagemaker=session.client("sagemaker", config=CLIENT_CONFIG),
        region=session.region_name,
    )
