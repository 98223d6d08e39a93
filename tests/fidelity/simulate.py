"""Evaluate IAM requests against a component's policies and the resource policies, in one node run.

The node helper (simulate.mjs) uses @cloud-copilot/iam-simulate. Each statement is sent with a
unique Sid so the decision names the statement, action pattern and resource pattern that allowed
or denied it (least_privilege.py uses that).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .actions import Request
from .cfn import Template
from .components import Component, components, resource_policies

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Resource policies of resources AWS owns that our roles use. The built-in algorithm images are
# pullable by every account (https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html).
AWS_OWNED = [
    (
        "AWS algorithm registry (stand-in for its repository policy)",
        "arn:aws:ecr:*:*:repository/image-classification",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": [
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                    "Resource": "*",
                }
            ],
        },
    )
]


@dataclass
class Statement:
    policy: str  # the policy's description (component and origin)
    index: int
    statement: dict[str, Any]
    component: str | None  # None for a resource policy


@dataclass
class Decision:
    request: Request
    decision: str
    errors: Any = None
    allows: list[dict[str, Any]] = field(default_factory=list)
    denies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed"


@dataclass
class PolicySet:
    """Every policy of a template, named for the node helper, with statements by Sid."""

    template: Template
    components: dict[str, Component]
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    statements: dict[str, Statement] = field(default_factory=dict)
    identity: dict[str, list[str]] = field(default_factory=dict)
    boundary: dict[str, str] = field(default_factory=dict)
    resources: list[tuple[str, str]] = field(default_factory=list)  # (pattern, document key)

    @classmethod
    def of(cls, template: Template) -> PolicySet:
        found = cls(template, components(template))
        for name, component in found.components.items():
            found.identity[name] = [
                found._add(p.name, p.document, name) for p in component.policies
            ]
            if component.boundary:
                found.boundary[name] = found._add(
                    component.boundary.name, component.boundary.document, name
                )
        seen: dict[str, str] = {}
        for name, pattern, document in [*resource_policies(template), *AWS_OWNED]:
            if name not in seen:
                seen[name] = found._add(name, document, None)
            found.resources.append((pattern, seen[name]))
        return found

    def _add(self, name: str, document: dict[str, Any], component: str | None) -> str:
        key = f"P{len(self.documents)}"
        document = copy.deepcopy(document)
        statements = document["Statement"]
        document["Statement"] = statements if isinstance(statements, list) else [statements]
        for index, statement in enumerate(document["Statement"]):
            sid = f"{key}S{index}"
            self.statements[sid] = Statement(name, index, copy.deepcopy(statement), component)
            statement["Sid"] = sid
        self.documents[key] = document
        return key

    def resource_policy_for(self, resource: str) -> str | None:
        for pattern, key in self.resources:
            if fnmatch.fnmatchcase(resource, pattern):
                return key
        return None


def evaluate(policies: PolicySet, requests: list[Request]) -> list[Decision]:
    payload = []
    for request in requests:
        component = policies.components.get(request.call.component)
        if component is None:
            raise AssertionError(
                f"{request.describe()}: the template has no component {request.call.component!r}"
            )
        payload.append(
            {
                "principal": component.principal,
                "action": request.action,
                "resource": request.resource,
                "resourceAccount": request.resource_account,
                "context": {"aws:PrincipalArn": component.role_arn, **request.context},
                "identityPolicies": policies.identity[component.name],
                "resourcePolicy": policies.resource_policy_for(request.resource),
                "boundary": policies.boundary.get(component.name),
            }
        )
    completed = subprocess.run(
        ["node", str(HERE / "simulate.mjs")],
        input=json.dumps({"policies": policies.documents, "requests": payload}),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the IAM simulator failed: {completed.stderr[-3000:]}")
    results = json.loads(completed.stdout)
    return [
        Decision(request, r["decision"], r.get("errors"), r.get("allows", []), r.get("denies", []))
        for request, r in zip(requests, results, strict=True)
    ]


def explain(policies: PolicySet, decision: Decision) -> str:
    """One line per refused request: the call, the action and resource, and why."""
    line = f"DENIED ({decision.decision}) {decision.request.describe()}"
    if decision.errors:
        line += f"; simulator: {json.dumps(decision.errors)[:300]}"
    for deny in decision.denies:
        statement = policies.statements.get(deny["sid"])
        if statement:
            line += f"; explicit Deny in {statement.policy} statement {statement.index}"
    return line
