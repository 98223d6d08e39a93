"""Where a grant puts its statements: a policy of our own, or a role's default policy."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import IConstruct

# A policy of our own (iam.Policy) or a role, whose statements go to its DefaultPolicy.
PolicyTarget = iam.Policy | iam.Role


def add_statements(target: PolicyTarget, *statements: iam.PolicyStatement) -> IConstruct:
    """Add the statements; return the policy construct holding them, where their cdk-nag findings
    are acknowledged."""
    if isinstance(target, iam.Policy):
        target.add_statements(*statements)
        return target
    for statement in statements:
        target.add_to_principal_policy(statement)
    return target.node.find_child("DefaultPolicy")
