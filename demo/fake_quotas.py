"""Stand-ins for what the emulator lacks: Service Quotas for SageMaker, and classmates' jobs.

`FakeServiceQuotas` answers the quota calls the Choose and preflight steps make, by default with
the quotas of a new account after two approved increase requests:

| quota name                                   | value |
|----------------------------------------------|-------|
| ml.g4dn.xlarge for training job usage        | 1     |
| ml.g5.xlarge for training job usage          | 1     |
| every other "ml.* for training job usage"    | 0     |
| every "ml.* for spot training job usage"     | 0     |

Tests change `on_demand` and `spot` between calls to script quotas over time.

`SageMakerWithOtherJobs` is a SageMaker client whose in-progress listing also shows jobs that other
people in the account run (moto completes every job at once, so it never has any in progress):
tests add and remove them to take and free quota.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DEMO_QUOTAS = {
    "ml.g4dn.xlarge": 1.0,
    "ml.g5.xlarge": 1.0,
    "ml.g4dn.2xlarge": 0.0,
    "ml.p3.2xlarge": 0.0,
    "ml.p2.xlarge": 0.0,
}
_CODES = {"ml.g4dn.xlarge": "L-3F53BF0F"}


class _Pages:
    def __init__(self, pages):
        self._pages = pages

    def paginate(self, **_):
        return iter(self._pages)


class FakeServiceQuotas:
    """Applied values for the types given (as list_service_quotas returns them), nothing pending."""

    def __init__(
        self,
        quotas: Mapping[str, float] | None = None,
        spot: Mapping[str, float] | None = None,
    ):
        self.on_demand = dict(DEMO_QUOTAS if quotas is None else quotas)
        self.spot = dict(spot or {})
        self.increase_requests: list[dict] = []
        self.reads = 0

    def _quota_rows(self):
        rows = []
        for market, values in (("training", self.on_demand), ("spot training", self.spot)):
            for n, (instance_type, value) in enumerate(values.items()):
                code = _CODES.get(instance_type) if market == "training" else None
                rows.append(
                    {
                        "QuotaName": f"{instance_type} for {market} job usage",
                        "Value": float(value),
                        "QuotaCode": code or f"L-DEMO{len(market):02d}{n:02d}",
                        "ServiceCode": "sagemaker",
                    }
                )
        return rows

    def get_paginator(self, operation: str) -> _Pages:
        if operation in ("list_service_quotas", "list_aws_default_service_quotas"):
            # One fresh look at the quotas starts with the applied values.
            self.reads += operation == "list_service_quotas"
            return _Pages([{"Quotas": self._quota_rows()}])
        if operation == "list_requested_service_quota_change_history_by_quota":
            return _Pages([{"RequestedQuotas": []}])
        raise NotImplementedError(f"the quota fake does not answer {operation}")

    def request_service_quota_increase(self, **request):
        self.increase_requests.append(request)
        return {"RequestedQuota": {**request, "Status": "PENDING"}}


@dataclass
class OtherJob:
    """A job someone else runs in the account: it holds quota while it is listed."""

    name: str
    instance_type: str
    count: int = 1
    spot: bool = False

    def description(self) -> dict[str, Any]:
        return {
            "TrainingJobName": self.name,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{self.name}",
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Training",
            "EnableManagedSpotTraining": self.spot,
            "ResourceConfig": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.count,
                "VolumeSizeInGB": 50,
            },
            "CreationTime": datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
        }


class _ListingWithOthers:
    def __init__(self, owner: SageMakerWithOtherJobs):
        self.owner = owner

    def paginate(self, **arguments) -> Iterator[dict]:
        real = self.owner.client.get_paginator("list_training_jobs").paginate(**arguments)
        yield from real
        if arguments.get("StatusEquals") in (None, "InProgress"):
            yield {
                "TrainingJobSummaries": [
                    {
                        "TrainingJobName": job.name,
                        "TrainingJobArn": job.description()["TrainingJobArn"],
                        "CreationTime": job.description()["CreationTime"],
                        "TrainingJobStatus": "InProgress",
                    }
                    for job in self.owner.others
                    if arguments.get("NameContains", "") in job.name
                ]
            }


class SageMakerWithOtherJobs:
    """A real (emulated) SageMaker client plus `others`, jobs in progress that are not ours."""

    def __init__(self, client: Any, others: list[OtherJob] | None = None):
        self.client = client
        self.others = list(others or [])

    def get_paginator(self, operation: str) -> Any:
        if operation == "list_training_jobs":
            return _ListingWithOthers(self)
        return self.client.get_paginator(operation)

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        for job in self.others:
            if job.name == TrainingJobName:
                return job.description()
        return self.client.describe_training_job(TrainingJobName=TrainingJobName)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
