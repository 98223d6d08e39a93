"""Acknowledgments name a finding the way cdk-nag prints it, so they suppress exactly that finding."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from stacks.common.nag import acknowledge_wildcard, nag_form

from ..conftest import acknowledgments, bare_stack, open_findings


def test_nag_form_renders_refs_attributes_and_joins():
    stack = bare_stack()
    bucket = s3.Bucket(stack, "Bucket")
    assert nag_form(stack, bucket.bucket_name) == "<Bucket83908E77>"
    assert nag_form(stack, bucket.arn_for_objects("raw/*")) == "<Bucket83908E77.Arn>/raw/*"
    assert nag_form(stack, f"{cdk.Aws.PARTITION}:x") == "<AWS::Partition>:x"
    with pytest.raises(ValueError, match="cannot name a cdk-nag finding"):
        nag_form(stack, cdk.Fn.select(0, ["a", "b"]) + cdk.Fn.base64("x"))


def wildcard_policy(resource_of):
    stack = bare_stack()
    bucket = s3.Bucket(stack, "Bucket", enforce_ssl=True)
    policy = iam.Policy(
        stack,
        "Policy",
        statements=[iam.PolicyStatement(actions=["s3:GetObject"], resources=[resource_of(bucket)])],
    )
    policy.attach_to_role(iam.Role(stack, "Role", assumed_by=iam.AccountRootPrincipal()))
    return stack, bucket, policy


def iam5_findings(scope) -> list[str]:
    return [finding for finding in open_findings(scope) if "IAM5" in finding]


def test_an_acknowledged_wildcard_is_accepted_and_recorded_with_its_reason():
    stack, bucket, policy = wildcard_policy(lambda bucket: bucket.arn_for_objects("raw/*"))
    assert iam5_findings(policy) == [
        "AwsSolutions-IAM5[Resource::<Bucket83908E77.Arn>/raw/*] at Test/Policy/Resource"
    ]
    acknowledge_wildcard(policy, bucket.arn_for_objects("raw/*"), "reads uploads of any name")
    assert iam5_findings(policy) == []
    assert acknowledgments(stack) == [
        (
            "Test/Policy",
            "AwsSolutions-IAM5[Resource::<Bucket83908E77.Arn>/raw/*]",
            "reads uploads of any name",
        )
    ]


def test_an_acknowledgment_covers_only_its_own_resource():
    stack, bucket, policy = wildcard_policy(lambda bucket: bucket.arn_for_objects("train/*"))
    acknowledge_wildcard(policy, bucket.arn_for_objects("raw/*"), "reads uploads of any name")
    assert iam5_findings(policy) == [
        "AwsSolutions-IAM5[Resource::<Bucket83908E77.Arn>/train/*] at Test/Policy/Resource"
    ]
