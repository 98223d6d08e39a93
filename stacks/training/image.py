"""The built-in image-classification (MXNet) algorithm image for the stack's region."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from stacks.config.regions import IMAGE_CLASSIFICATION_ACCOUNTS

REPOSITORY = "image-classification"
TAG = "1"


class AlgorithmImage(Construct):
    """Resolves the image URI at synth time for a known region, with Fn::FindInMap otherwise.

    The mapping is lazy: a stack with a concrete region gets the literal URI and no Mappings
    section; an environment-agnostic stack gets a template that works in every listed region.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        mapping = cdk.CfnMapping(
            self,
            "Accounts",
            mapping={
                region: {"account": account}
                for region, account in IMAGE_CLASSIFICATION_ACCOUNTS.items()
            },
            lazy=True,
        )
        self.registry_account = mapping.find_in_map(stack.region, "account")
        self.uri = (
            f"{self.registry_account}.dkr.ecr.{stack.region}.{stack.url_suffix}/{REPOSITORY}:{TAG}"
        )
        self.repository_arn = stack.format_arn(
            service="ecr",
            account=self.registry_account,
            resource="repository",
            resource_name=REPOSITORY,
        )
