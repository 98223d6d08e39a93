"""SageMaker training quotas per GPU instance type, their use, and the choice of an instance type.

New accounts have a quota of 0 for GPU training instances, and the Image Classification algorithm
needs a GPU: knowing this before CreateTrainingJob turns a ResourceLimitExceeded failure into a
message that says what to request. Quota codes differ per instance type and are not documented per
name, so quotas are found by name (`ml.<type> for training job usage`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .clients import Client

logger = logging.getLogger(__name__)

__all__ = [
    "KNOWN_TRAINING_QUOTA_CODES",
    "OPEN_REQUEST_STATUSES",
    "SERVICE_CODE",
    "InstanceQuota",
    "NoGpuQuotaError",
    "choose_instance_type",
    "console_url",
    "describe_quota",
    "get_training_quotas",
    "get_training_usage",
    "increase_command",
    "normalize_instance_type",
    "open_increase_requests",
    "quota_rows",
    "request_increase",
    "training_quota_name",
]

SERVICE_CODE = "sagemaker"
# Used only when the listings do not name the quota (e.g. no permission to list defaults).
KNOWN_TRAINING_QUOTA_CODES = {"ml.g4dn.xlarge": "L-3F53BF0F"}
OPEN_REQUEST_STATUSES = frozenset({"PENDING", "CASE_OPENED"})
_PAGE_SIZE = 100  # MaxResults upper bound of the Service Quotas list calls


@dataclass(frozen=True)
class InstanceQuota:
    """The training quota of one instance type in one region.

    `value` is None when no quota of that name exists there (the type is not offered in the
    region); `source` is "applied" (the account's value), "default" (AWS default, never changed
    for the account) or "missing".
    """

    instance_type: str
    value: float | None
    quota_code: str | None
    source: str

    @property
    def name(self) -> str:
        return training_quota_name(self.instance_type)


class NoGpuQuotaError(Exception):
    """No preferred instance type has a training quota above its current use."""

    def __init__(
        self,
        quotas: Mapping[str, InstanceQuota],
        usage: Mapping[str, int],
        preference: Sequence[str],
        region: str | None = None,
    ):
        self.quotas = dict(quotas)
        self.usage = dict(usage)
        self.preference = list(preference)
        self.region = region
        super().__init__(self._message())

    def _message(self) -> str:
        where = f" in {self.region}" if self.region else ""
        lines = [
            f"No GPU capacity for SageMaker training{where}: every preferred instance type is at "
            "its 'training job usage' quota (new accounts start at 0 for GPU types)."
        ]
        lines += [
            f"- {describe_quota(self.quotas[t], self.usage.get(t, 0))}" for t in self.preference
        ]
        requestable = [t for t in self.preference if self.quotas[t].value is not None]
        for instance_type in requestable[:2]:
            quota = self.quotas[instance_type]
            desired = max(1, self.usage.get(instance_type, 0) + 1)
            lines.append(f"Request '{quota.name}' = {desired}:")
            lines.append(f"  console: {console_url(quota.quota_code, self.region)}")
            lines.append(f"  CLI: {increase_command(quota, desired, self.region)}")
        if not requestable:
            lines.append(
                "None of these instance types is offered for training in this region: "
                "choose other types (training.instanceTypes) or another region."
            )
        else:
            lines.append(
                "Approval can take from minutes to days; or wait until running training jobs end."
            )
        return "\n".join(lines)


def normalize_instance_type(instance_type: str) -> str:
    """'g4dn.xlarge' or 'ml.g4dn.xlarge' -> 'ml.g4dn.xlarge' (quota names and the API use ml.)."""
    text = str(instance_type).strip()
    return text if text.startswith("ml.") else f"ml.{text}"


def training_quota_name(instance_type: str) -> str:
    return f"{normalize_instance_type(instance_type)} for training job usage"


def console_url(quota_code: str | None, region: str | None) -> str:
    host = (
        f"https://{region}.console.aws.amazon.com" if region else "https://console.aws.amazon.com"
    )
    path = "/servicequotas/home/services/sagemaker/quotas"
    return f"{host}{path}/{quota_code}" if quota_code else host + path


def increase_command(quota: InstanceQuota, desired: int = 1, region: str | None = None) -> str:
    code = quota.quota_code or f"<code of '{quota.name}' in the console>"
    command = (
        f"aws service-quotas request-service-quota-increase --service-code {SERVICE_CODE} "
        f"--quota-code {code} --desired-value {desired}"
    )
    return f"{command} --region {region}" if region else command


def _format_value(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def describe_quota(quota: InstanceQuota, in_use: int) -> str:
    if quota.value is None:
        return (
            f"{quota.instance_type}: no quota '{quota.name}' in this region "
            "(the instance type is not offered for training here)"
        )
    origin = "AWS default" if quota.source == "default" else "applied"
    code = f", {quota.quota_code}" if quota.quota_code else ""
    return (
        f"{quota.instance_type}: quota {_format_value(quota.value)} ({origin}{code}), "
        f"{in_use} in use by running training jobs"
    )


def _collect(pages: Iterable[dict], wanted: Mapping[str, str], source: str, found: dict) -> None:
    for page in pages:
        for quota in page.get("Quotas", []):
            instance_type = wanted.get(quota.get("QuotaName", ""))
            if instance_type and instance_type not in found:
                found[instance_type] = InstanceQuota(
                    instance_type, quota.get("Value"), quota.get("QuotaCode"), source
                )
        if len(found) == len(wanted):
            return


def get_training_quotas(
    servicequotas: Client, instance_types: Iterable[str]
) -> dict[str, InstanceQuota]:
    """Quota per instance type (keys with ml.), applied values first, then AWS defaults.

    A quota never changed for the account has no applied value and is absent from
    list_service_quotas; its value is then the AWS default.
    """
    wanted = {training_quota_name(t): normalize_instance_type(t) for t in instance_types}
    found: dict[str, InstanceQuota] = {}
    # SageMaker has over a thousand quotas: the largest pages keep the Prepare Lambda quick.
    pages = {"ServiceCode": SERVICE_CODE, "PaginationConfig": {"PageSize": _PAGE_SIZE}}
    paginator = servicequotas.get_paginator("list_service_quotas")
    _collect(paginator.paginate(**pages), wanted, "applied", found)
    if len(found) < len(wanted):
        paginator = servicequotas.get_paginator("list_aws_default_service_quotas")
        _collect(paginator.paginate(**pages), wanted, "default", found)
    for instance_type in wanted.values():
        if instance_type not in found:
            found[instance_type] = InstanceQuota(
                instance_type, None, KNOWN_TRAINING_QUOTA_CODES.get(instance_type), "missing"
            )
    return {t: found[t] for t in wanted.values()}


def get_training_usage(sagemaker: Client) -> dict[str, int]:
    """Instances held by in-progress training jobs, per instance type."""
    usage: Counter[str] = Counter()
    paginator = sagemaker.get_paginator("list_training_jobs")
    for page in paginator.paginate(StatusEquals="InProgress"):
        for summary in page.get("TrainingJobSummaries", []):
            job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            if job.get("TrainingJobStatus") != "InProgress":
                continue
            resources = job.get("ResourceConfig", {})
            if resources.get("InstanceType"):
                usage[resources["InstanceType"]] += int(resources.get("InstanceCount", 1))
            # Heterogeneous clusters list their instances per group instead.
            for group in resources.get("InstanceGroups", []):
                usage[group["InstanceType"]] += int(group.get("InstanceCount", 1))
    return dict(usage)


def choose_instance_type(
    preference: Sequence[str],
    quotas: Mapping[str, InstanceQuota],
    usage: Mapping[str, int],
    *,
    region: str | None = None,
) -> str:
    """The first preferred type whose quota exceeds the instances in use; NoGpuQuotaError if none."""
    types = [normalize_instance_type(t) for t in preference]
    for instance_type in types:
        quota = quotas[instance_type]
        if quota.value is not None and quota.value > usage.get(instance_type, 0):
            return instance_type
    raise NoGpuQuotaError(quotas, usage, types, region)


def quota_rows(
    preference: Sequence[str], quotas: Mapping[str, InstanceQuota], usage: Mapping[str, int]
) -> list[dict]:
    """JSON rows `{"instanceType", "quota", "inUse"}` (quota None: not offered in the region)."""
    return [
        {
            "instanceType": normalize_instance_type(t),
            "quota": _format_value(quotas[normalize_instance_type(t)].value),
            "inUse": usage.get(normalize_instance_type(t), 0),
        }
        for t in preference
    ]


def open_increase_requests(servicequotas: Client, quota_code: str) -> list[dict]:
    """Increase requests for the quota that are still being handled (PENDING or CASE_OPENED)."""
    paginator = servicequotas.get_paginator("list_requested_service_quota_change_history_by_quota")
    return [
        request
        for page in paginator.paginate(ServiceCode=SERVICE_CODE, QuotaCode=quota_code)
        for request in page.get("RequestedQuotas", [])
        if request.get("Status") in OPEN_REQUEST_STATUSES
    ]


def request_increase(servicequotas: Client, quota_code: str, desired_value: float = 1) -> dict:
    """File an increase request; returns the RequestedQuota (Id, Status, ...)."""
    response = servicequotas.request_service_quota_increase(
        ServiceCode=SERVICE_CODE, QuotaCode=quota_code, DesiredValue=float(desired_value)
    )
    requested = response["RequestedQuota"]
    logger.info(
        "Requested %s = %s (request %s, status %s)",
        requested.get("QuotaName", quota_code),
        desired_value,
        requested.get("Id"),
        requested.get("Status"),
    )
    return requested
