"""Least privilege, shown: every (action, resource) a policy grants our roles, and whether any
recorded or tabled call used it.

A granted pair no call uses must be removed or carry a reviewed reason in REASONS. So must a pair
with Resource "*" whose action supports resource-level permissions (broader than it needs to be).
Pairs that cannot authorize anything (an object action on a bucket ARN, as CDK's combined bucket
statements write them) are inert (policy_sentry's ARN formats decide) and need a reason as well.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass

from .simulate import Decision, PolicySet


@dataclass(frozen=True)
class Grant:
    component: str
    policy: str
    action: str
    resource: str
    condition_keys: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.component}: {self.action} on {self.resource} ({self.policy})"


@dataclass(frozen=True)
class Reason:
    component: str
    action: str
    resource: str  # a regular expression the resolved resource must match in full
    kind: str  # "unused", "broad", "inert" or "unconditioned"
    why: str

    def covers(self, grant: Grant, kind: str) -> bool:
        return (
            kind == self.kind
            and grant.component == self.component
            and grant.action == self.action
            and re.fullmatch(self.resource, grant.resource) is not None
        )


CDK_REPORTS = (
    "CDK's codebuild.Project always grants its test-report actions on report groups named after the "
    "project; the buildspec has no reports section, so CodeBuild never calls them. Removing them means "
    "editing the L2 construct's generated policy; they reach only this project's report groups."
)
CDK_DEFAULT_LOG_GROUP = (
    "CDK's codebuild.Project always grants its default log group /aws/codebuild/<project>; builds log "
    "to the configured group instead, so this one is never written. Only that group's name."
)
LAMBDA_QUALIFIED = (
    "CDK's grantInvoke adds the function's versions and aliases (ARN:*); Step Functions and the "
    "provider framework invoke the unqualified ARN. Reaches only this function."
)

REASONS = (
    [
        Reason("packaging build", a, r".*:report-group/.*-\*", "unused", CDK_REPORTS)
        for a in (
            "codebuild:BatchPutCodeCoverages",
            "codebuild:BatchPutTestCases",
            "codebuild:CreateReport",
            "codebuild:CreateReportGroup",
            "codebuild:UpdateReport",
        )
    ]
    + [
        Reason(
            "packaging build", a, r".*:log-group:/aws/codebuild/.*", "unused", CDK_DEFAULT_LOG_GROUP
        )
        for a in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
    ]
    + [
        Reason(
            "state machine",
            "lambda:InvokeFunction",
            r".*:function:[^:]+:\*",
            "unused",
            LAMBDA_QUALIFIED,
        ),
        *(
            Reason(
                f"{handler} provider framework",
                "lambda:InvokeFunction",
                r".*:function:[^:]+:\*",
                "unused",
                LAMBDA_QUALIFIED,
            )
            for handler in ("preflight", "teardown")
        ),
        Reason(
            "packaging build",
            "s3:GetObjectVersion",
            r"arn:aws:s3:::cdk-.*\.zip",
            "unused",
            "CodeBuild's documented service-role policy for S3 sources includes s3:GetObjectVersion: it fetches "
            "the source by version when a source version is set. Ours sets none, but the console and "
            "`aws codebuild start-build --source-version` can; limited to the one asset object.",
        ),
        Reason(
            "packaging build",
            "s3:AbortMultipartUpload",
            r"arn:aws:s3:::[^/]+/validation/\*",
            "unused",
            "The validation .rec is multipart only above 8 MB (thousands of photos); s3transfer then aborts a "
            "failed upload exactly as the recorded train/ case shows.",
        ),
        Reason(
            "training execution (SageMaker)",
            "s3:AbortMultipartUpload",
            r"arn:aws:s3:::[^/]+/output/\*",
            "unused",
            "SageMaker uploads model.tar.gz in parts when it is large and aborts a failed upload; AWS's "
            "training role examples grant it with s3:PutObject. Output prefix only.",
        ),
        Reason(
            "training execution (SageMaker)",
            "s3:GetBucketLocation",
            r"arn:aws:s3:::[^/]+",
            "unused",
            "Not in AWS's list of what CreateTrainingJob's execution role needs; SageMaker's managed policies "
            "grant it and older SDK paths call it to find the channel bucket's region. Read-only metadata of "
            "this one bucket; drop it after a real run shows CloudTrail never records it.",
        ),
    ]
)
REASONS.append(
    Reason(
        "CDK auto-delete-objects handler",
        "s3:List*",
        r"arn:aws:s3:::[^/]+/\*",
        "unused",
        "CDK's bucket policy for its auto-delete handler pairs s3:List* with the objects ARN too, which "
        "allows only ListMultipartUploadParts; the handler lists versions on the bucket ARN. CDK's own "
        "statement; it reaches this bucket only and runs only on stack deletion.",
    )
)
CDK_BUCKET_STATEMENT = (
    "CDK's bucket-policy statement for its auto-delete handler lists bucket and object actions "
    "against both the bucket and the objects ARN; this pairing authorizes nothing."
)
for _action, _resource in (
    ("s3:DeleteObject*", r"arn:aws:s3:::[^/]+"),
    ("s3:GetBucket*", r"arn:aws:s3:::[^/]+/\*"),
    ("s3:PutBucketPolicy", r"arn:aws:s3:::[^/]+/\*"),
):
    REASONS.append(
        Reason("CDK auto-delete-objects handler", _action, _resource, "inert", CDK_BUCKET_STATEMENT)
    )
for _action in ("logs:CreateLogStream", "logs:PutLogEvents"):
    REASONS.append(
        Reason(
            "packaging build",
            _action,
            r".*:log-group:/aws/codebuild/[^:]+",
            "inert",
            "CDK's codebuild.Project grants its default log group on the bare group ARN too; "
            "stream actions never apply to a group ARN.",
        )
    )
# The auto-delete and notifications handlers are CDK's own: their grants are kept as CDK writes them.
for _action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"):
    for _component in ("CDK auto-delete-objects handler", "CDK bucket-notifications handler"):
        REASONS.append(
            Reason(
                _component,
                _action,
                r"\*",
                "broad",
                "AWSLambdaBasicExecutionRole, attached by CDK to its own handler: Lambda writes the "
                "handler's logs to /aws/lambda/<function> with it.",
            )
        )


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def granted(policies: PolicySet) -> list[Grant]:
    found = []
    arns = {c.role_arn: name for name, c in policies.components.items()}
    for statement in policies.statements.values():
        document = statement.statement
        if (
            document.get("Effect") != "Allow"
            or "Action" not in document
            or "Resource" not in document
        ):
            continue
        if statement.component is not None:
            owners = [statement.component]
        else:
            principals = document.get("Principal", {})
            aws = _as_list(principals.get("AWS", [])) if isinstance(principals, dict) else []
            owners = [arns[p] for p in aws if p in arns]
        keys = tuple(
            sorted({key for test in document.get("Condition", {}).values() for key in test})
        )
        for owner in owners:
            for action in _as_list(document["Action"]):
                for resource in _as_list(document["Resource"]):
                    found.append(Grant(owner, statement.policy, action, resource, keys))
    return sorted(set(found), key=lambda g: (g.component, g.action, g.resource))


def used(policies: PolicySet, decisions: list[Decision]) -> set[tuple[str, str, str, str]]:
    """(component, policy, action pattern, resource pattern) that allowed some request."""
    found = set()
    for decision in decisions:
        if not decision.allowed:
            continue
        for allow in decision.allows:
            statement = policies.statements[allow["sid"]]
            for action in allow["actions"]:
                for resource in allow["resources"]:
                    found.add((decision.request.call.component, statement.policy, action, resource))
    return found


@functools.cache
def _formats(action_pattern: str) -> tuple[str, ...]:
    """ARN formats (regular expressions) of every action the pattern names; "*" for none."""
    from policy_sentry.querying.actions import get_action_data, get_actions_for_service

    service, name = action_pattern.split(":", 1)
    actions = [
        a.split(":", 1)[1]
        for a in get_actions_for_service(service)
        if fnmatch.fnmatchcase(a.split(":", 1)[1].lower(), name.lower())
    ]
    formats = set()
    for action in actions:
        for row in (get_action_data(service, action) or {}).get(service, []):
            formats.add(_format_regex(row["resource_arn_format"]))
    return tuple(sorted(formats))


def _format_regex(arn_format: str) -> str:
    if arn_format == "*":
        return "*"
    slashy = ("ObjectName", "LogGroupName", "LogStreamName", "RoleNameWithPath", "RepositoryName")
    parts = re.split(r"(\$\{[^}]+\})", arn_format)
    out = ""
    for part in parts:
        if part.startswith("${"):
            out += (
                ".+"
                if part[2:-1] in slashy or part[2:-1] in ("Partition", "Region", "Account")
                else "[^/]+"
            )
        else:
            out += re.escape(part)
    return out


def inert(grant: Grant) -> bool:
    """True when no action of the pattern can apply to a resource of that form."""
    if grant.resource == "*":
        return False
    # A wildcard may stand for a plain name, a path, or a sub-resource such as a log stream.
    samples = [
        grant.resource.replace("*", filler) for filler in ("x", "x/x", "x:x", "log-stream:x")
    ]
    formats = _formats(grant.action)
    return bool(formats) and not any(
        f != "*" and re.fullmatch(f, sample) for f in formats for sample in samples
    )


# Grants that must be narrowed by a condition: the key that says to whom or what they apply.
REQUIRED_CONDITIONS = {
    "iam:PassRole": "iam:PassedToService",
    "cloudwatch:PutMetricData": "cloudwatch:namespace",
    "s3:ListBucket": "s3:prefix",
}


def unconditioned(grant: Grant) -> bool:
    key = REQUIRED_CONDITIONS.get(grant.action)
    return key is not None and key not in grant.condition_keys


def broad(grant: Grant) -> bool:
    """Resource "*" for an action that could be scoped to resources."""
    if grant.resource != "*" or "*" in grant.action:
        return False
    return any(f != "*" for f in _formats(grant.action))


@dataclass
class Review:
    unused: list[Grant]
    broad: list[Grant]
    inert: list[Grant]
    unconditioned: list[Grant]

    def kinds(self) -> list[tuple[str, list[Grant]]]:
        return [
            ("unused", self.unused),
            ("broad", self.broad),
            ("inert", self.inert),
            ("unconditioned", self.unconditioned),
        ]

    def unexplained(self) -> list[str]:
        lines = []
        labels = {
            "unused": "granted, no call uses it",
            "broad": "Resource '*' for an action that supports resource-level permissions",
            "inert": "granted on a resource its actions never apply to",
            "unconditioned": "granted without the condition that narrows it "
            f"({', '.join(f'{a}: {k}' for a, k in REQUIRED_CONDITIONS.items())})",
        }
        for kind, grants in self.kinds():
            for grant in grants:
                if not any(r.covers(grant, kind) for r in REASONS):
                    lines.append(f"{labels[kind]}: {grant.describe()}")
        return lines


def review(policies: PolicySet, decisions: list[Decision]) -> Review:
    uses = used(policies, decisions)
    unused, wide, dead, loose = [], [], [], []
    for grant in granted(policies):
        if unconditioned(grant):
            loose.append(grant)
        if inert(grant):
            dead.append(grant)
        elif (grant.component, grant.policy, grant.action, grant.resource) not in uses:
            unused.append(grant)
        if broad(grant):
            wide.append(grant)
    return Review(unused, wide, dead, loose)
