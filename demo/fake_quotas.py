"""A stand-in for Service Quotas, which the emulator does not implement for SageMaker.

It answers the calls the Prepare step makes, with the quotas of a typical new account after one
approved increase request:

| quota name                                   | value |
|----------------------------------------------|-------|
| ml.g4dn.xlarge for training job usage        | 0     |
| ml.g5.xlarge for training job usage          | 1     |
| every other "ml.* for training job usage"    | 0     |

so the demo shows the choice skipping a preferred type that has no quota.
"""

from __future__ import annotations

DEMO_QUOTAS = {
    "ml.g4dn.xlarge": 0.0,
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
    """Applied values for the types above (as list_service_quotas returns them), nothing pending."""

    def __init__(self, quotas: dict[str, float] | None = None):
        self.quotas = DEMO_QUOTAS if quotas is None else quotas
        self.increase_requests: list[dict] = []

    def _quota_rows(self):
        return [
            {
                "QuotaName": f"{t} for training job usage",
                "Value": v,
                "QuotaCode": _CODES.get(t, f"L-DEMO{n:04d}"),
                "ServiceCode": "sagemaker",
            }
            for n, (t, v) in enumerate(self.quotas.items())
        ]

    def get_paginator(self, operation: str) -> _Pages:
        if operation in ("list_service_quotas", "list_aws_default_service_quotas"):
            return _Pages([{"Quotas": self._quota_rows()}])
        if operation == "list_requested_service_quota_change_history_by_quota":
            return _Pages([{"RequestedQuotas": []}])
        raise NotImplementedError(f"the quota fake does not answer {operation}")

    def request_service_quota_increase(self, **request):
        self.increase_requests.append(request)
        return {"RequestedQuota": {**request, "Status": "PENDING"}}
