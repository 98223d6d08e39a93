"""AlgorithmImage: the literal image of a known region, a mapping over every listed region when the
stack's region is only known at deploy time."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Template

from stacks.config.regions import IMAGE_CLASSIFICATION_ACCOUNTS
from stacks.training.image import AlgorithmImage

from ..conftest import bare_stack, render


def test_image_accounts_cover_the_documented_regions():
    assert len(IMAGE_CLASSIFICATION_ACCOUNTS) == 16
    assert IMAGE_CLASSIFICATION_ACCOUNTS["us-east-1"] == "811284229777"
    assert IMAGE_CLASSIFICATION_ACCOUNTS["eu-west-1"] == "685385470294"


def test_a_known_region_gets_the_literal_image_and_no_mapping():
    stack = bare_stack(env=cdk.Environment(account="111111111111", region="us-west-2"))
    image = AlgorithmImage(stack, "AlgorithmImage")
    assert render(stack.resolve(image.uri)) == (
        "433757028032.dkr.ecr.us-west-2.<AWS::URLSuffix>/image-classification:1"
    )
    assert render(stack.resolve(image.repository_arn)) == (
        "arn:<AWS::Partition>:ecr:us-west-2:433757028032:repository/image-classification"
    )
    cdk.CfnOutput(stack, "Uri", value=image.uri)
    assert "Mappings" not in Template.from_stack(stack).to_json()


def test_an_environment_agnostic_stack_maps_every_listed_region():
    stack = bare_stack()
    image = AlgorithmImage(stack, "AlgorithmImage")
    cdk.CfnOutput(stack, "Uri", value=image.uri)
    (mapping,) = Template.from_stack(stack).to_json()["Mappings"].values()
    assert mapping == {
        region: {"account": account} for region, account in IMAGE_CLASSIFICATION_ACCOUNTS.items()
    }
