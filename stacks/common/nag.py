"""cdk-nag acknowledgments: each on the narrowest construct that causes the finding, with a reason.

IAM5 (wildcard resource) findings are acknowledged one by one, named by the resource as cdk-nag
prints it, so a new wildcard anywhere still fails the synth.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def acknowledge_wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    """Accept the AwsSolutions-IAM5 finding for one resource pattern (an ARN ending in `*`)."""
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{nag_form(scope, resource)}]", reason)


def nag_form(scope: IConstruct, value: object) -> str:
    """A token-bearing string as cdk-nag prints it in a finding: Ref -> <Id>, GetAtt -> <Id.Attr>.

    With a concrete account/region the same ARN is a literal, so findings are computed, not typed.
    """

    def render(node: object) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return f"<{node['Ref']}>"
        if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
            return f"<{'.'.join(node['Fn::GetAtt'])}>"
        if isinstance(node, dict) and set(node) == {"Fn::Join"}:
            separator, parts = node["Fn::Join"]
            return separator.join(render(part) for part in parts)
        raise ValueError(f"cannot name a cdk-nag finding for {node!r}")

    return render(cdk.Stack.of(scope).resolve(value))
