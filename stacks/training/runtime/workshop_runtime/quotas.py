"""SageMaker training quotas per GPU instance type and market (on-demand or spot), and their use.

New accounts have a quota of 0 for GPU training instances, and the Image Classification algorithm
needs a GPU: knowing this before CreateTrainingJob turns a ResourceLimitExceeded failure into a
message that says what to request. Quota codes differ per instance type and are not documented per
name, so quotas are found by name (`ml.<type> for training job usage`, and `ml.<type> for spot
training job usage` for managed spot training, a separate quota).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .clients import Client

logger = logging.getLogger(__name__)

__all__ = [
    "KNOWN_TRAINING_QUOTA_CODES",
    "OPEN_REQUEST_STATUSES",
    "QUOTA_READ_ACTIONS",
    "SERVICE_CODE",
    "USAGE_READ_ACTIONS",
    "Capacity",
    "InstanceQuota",
    "NoGpuQuotaError",
    "console_url",
    "count_instances_in_use",
    "describe_quota",
    "format_quota_value",
    "get_quotas",
    "get_training_quotas",
    "get_training_usage",
    "increase_command",
    "normalize_instance_type",
    "open_increase_requests",
    "request_increase",
    "training_quota_name",
]

SERVICE_CODE = "sagemaker"
# Used only when the listings do not name the quota (e.g. no permission to list defaults).
KNOWN_TRAINING_QUOTA_CODES = {"ml.g4dn.xlarge": "L-3F53BF0F"}
OPEN_REQUEST_STATUSES = frozenset({"PENDING", "CASE_OPENED"})
_PAGE_SIZE = 100  # MaxResults upper bound of the Service Quotas list calls
# What reading quotas and counting the instances in use call (the roles grant exactly these).
QUOTA_READ_ACTIONS = (
    "servicequotas:ListServiceQuotas",
    "servicequotas:ListAWSDefaultServiceQuotas",
)
USAGE_READ_ACTIONS = ("sagemaker:ListTrainingJobs", "sagemaker:DescribeTrainingJob")


class Capacity(NamedTuple):
    """What one training job holds: instances of one type, on-demand or managed spot."""

    instance_type: str
    spot: bool = False

    @property
    def label(self) -> str:
        return f"{self.instance_type} {'spot' if self.spot else 'on-demand'}"


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
    spot: bool = False

    @property
    def name(self) -> str:
        return training_quota_name(self.instance_type, spot=self.spot)


class NoGpuQuotaError(Exception):
    """No preferred instance type has a training quota above its current use.

    `quotas` and `usage` are keyed alike, by instance type or by Capacity; `needed` is the
    instances one job takes; `waited` says how long the run waited for quota (None: it did not).
    """

    def __init__(
        self,
        quotas: Mapping[Any, InstanceQuota],
        usage: Mapping[Any, int],
        preference: Sequence[Any],
        region: str | None = None,
        *,
        needed: int = 1,
        waited: str | None = None,
    ):
        self.quotas = dict(quotas)
        self.usage = dict(usage)
        self.preference = list(preference)
        self.region = region
        self.needed = needed
        self.waited = waited
        super().__init__(self._message())

    def _message(self) -> str:
        where = f" in {self.region}" if self.region else ""
        lines = [
            f"No GPU capacity for SageMaker training{where}: every preferred instance type is at "
            "its 'training job usage' quota (new accounts start at 0 for GPU types)."
        ]
        if self.needed > 1:
            lines.append(f"Each job needs {self.needed} instances of one type.")
        if self.waited:
            lines.append(self.waited)
        lines += [
            f"- {describe_quota(self.quotas[t], self.usage.get(t, 0))}" for t in self.preference
        ]
        requestable = [t for t in self.preference if self.quotas[t].value is not None]
        for key in requestable[:2]:
            quota = self.quotas[key]
            desired = max(1, self.usage.get(key, 0) + self.needed)
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


def training_quota_name(instance_type: str, *, spot: bool = False) -> str:
    market = "spot training" if spot else "training"
    return f"{normalize_instance_type(instance_type)} for {market} job usage"


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


def format_quota_value(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def describe_quota(quota: InstanceQuota, in_use: int) -> str:
    what = f"{quota.instance_type} spot" if quota.spot else quota.instance_type
    if quota.value is None:
        return (
            f"{what}: no quota '{quota.name}' in this region "
            "(the instance type is not offered for training here)"
        )
    origin = "AWS default" if quota.source == "default" else "applied"
    code = f", {quota.quota_code}" if quota.quota_code else ""
    return (
        f"{what}: quota {format_quota_value(quota.value)} ({origin}{code}), "
        f"{in_use} in use by running training jobs"
    )


def _collect(
    pages: Iterable[dict], wanted: Mapping[str, Capacity], source: str, found: dict
) -> None:
    for page in pages:
        for quota in page.get("Quotas", []):
            capacity = wanted.get(quota.get("QuotaName", ""))
            if capacity and capacity not in found:
                found[capacity] = InstanceQuota(
                    capacity.instance_type,
                    quota.get("Value"),
                    quota.get("QuotaCode"),
                    source,
                    capacity.spot,
                )
        if len(found) == len(wanted):
            return


def get_quotas(
    servicequotas: Client, capacities: Iterable[Capacity]
) -> dict[Capacity, InstanceQuota]:
    """Quota per Capacity (instance types with ml.), applied values first, then AWS defaults.

    A quota never changed for the account has no applied value and is absent from
    list_service_quotas; its value is then the AWS default. One pass serves both markets.
    """
    wanted = {
        training_quota_name(c.instance_type, spot=c.spot): Capacity(
            normalize_instance_type(c.instance_type), c.spot
        )
        for c in capacities
    }
    found: dict[Capacity, InstanceQuota] = {}
    # SageMaker has over a thousand quotas: the largest pages keep the Lambda quick.
    pages = {"ServiceCode": SERVICE_CODE, "PaginationConfig": {"PageSize": _PAGE_SIZE}}
    paginator = servicequotas.get_paginator("list_service_quotas")
    _collect(paginator.paginate(**pages), wanted, "applied", found)
    if len(found) < len(wanted):
        paginator = servicequotas.get_paginator("list_aws_default_service_quotas")
        _collect(paginator.paginate(**pages), wanted, "default", found)
    for capacity in wanted.values():
        if capacity not in found:
            code = None if capacity.spot else KNOWN_TRAINING_QUOTA_CODES.get(capacity.instance_type)
            found[capacity] = InstanceQuota(
                capacity.instance_type, None, code, "missing", capacity.spot
            )
    return {c: found[c] for c in wanted.values()}


def get_training_quotas(
    servicequotas: Client, instance_types: Iterable[str], *, spot: bool = False
) -> dict[str, InstanceQuota]:
    """Quota per instance type (keys with ml.) of one market."""
    found = get_quotas(servicequotas, [Capacity(t, spot) for t in instance_types])
    return {capacity.instance_type: quota for capacity, quota in found.items()}


def count_instances_in_use(sagemaker: Client) -> dict[Capacity, int]:
    """Instances held by in-progress training jobs, per instance type and market.

    Every job of the account counts, whoever started it: the quota is the account's.
    """
    usage: Counter[Capacity] = Counter()
    paginator = sagemaker.get_paginator("list_training_jobs")
    for page in paginator.paginate(StatusEquals="InProgress"):
        for summary in page.get("TrainingJobSummaries", []):
            job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            if job.get("TrainingJobStatus") != "InProgress":
                continue
            spot = bool(job.get("EnableManagedSpotTraining"))
            resources = job.get("ResourceConfig", {})
            if resources.get("InstanceType"):
                capacity = Capacity(resources["InstanceType"], spot)
                usage[capacity] += int(resources.get("InstanceCount", 1))
            # Heterogeneous clusters list their instances per group instead.
            for group in resources.get("InstanceGroups", []):
                usage[Capacity(group["InstanceType"], spot)] += int(group.get("InstanceCount", 1))
    return dict(usage)


def get_training_usage(sagemaker: Client) -> dict[str, int]:
    """On-demand instances held by in-progress training jobs, per instance type."""
    return {
        capacity.instance_type: count
        for capacity, count in count_instances_in_use(sagemaker).items()
        if not capacity.spot
    }


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
