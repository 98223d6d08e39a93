"""add_statements: a grant lands in our own policy, or in a role's default policy."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from stacks.common.iam import add_statements

from ..conftest import bare_stack, has_statement


def test_statements_land_where_the_target_keeps_its_permissions():
    stack = bare_stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    policy = iam.Policy(stack, "Own")
    role.attach_inline_policy(policy)
    statement = {"Sid": "Locate", "Action": "s3:GetBucketLocation", "Resource": "arn:aws:s3:::b"}
    in_policy = add_statements(
        policy, iam.PolicyStatement.from_json({**statement, "Effect": "Allow"})
    )
    in_role = add_statements(
        role, iam.PolicyStatement.from_json({**statement, "Sid": "Other", "Effect": "Allow"})
    )
    assert in_policy is policy
    assert in_role.node.path == "Test/Role/DefaultPolicy"
    template = Template.from_stack(stack)
    has_statement(template, "Own", statement)
    has_statement(template, "RoleDefaultPolicy", {**statement, "Sid": "Other"})
