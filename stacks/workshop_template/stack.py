"""The workshop stack as one plain CloudFormation template, for Workshop Studio, StackSets and the
console: no CDK bootstrap, file assets from the asset bucket parameters, and the settings that vary
per account (stacks/config/parameters.py) as parameters the components get as deploy-time values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from stacks.app import WorkshopStack
from stacks.config import WorkshopSettings
from stacks.config.parameters import TEMPLATE_PARAMETERS, definition
from stacks.storage.workshop_bucket import RetainChosenAtDeploy
from stacks.training.runtime.workshop_runtime.specs import Namespace, snake_case

from .synthesizer import (
    ASSETS_BUCKET_PARAMETER,
    ASSETS_PREFIX_PARAMETER,
    AssetParameterSynthesizer,
)

# How each parameter reaches the components: the value the construct property takes.
Binding = Callable[[cdk.CfnParameter, cdk.Stack, WorkshopSettings], Any]


def _instance_types(parameter: cdk.CfnParameter, _: cdk.Stack, __: WorkshopSettings) -> Any:
    return parameter.value_as_list


def _retain_bucket(
    parameter: cdk.CfnParameter, stack: cdk.Stack, settings: WorkshopSettings
) -> RetainChosenAtDeploy:
    kept = cdk.CfnCondition(
        stack, "KeepBucket", expression=cdk.Fn.condition_equals(parameter.value_as_string, "true")
    )
    return RetainChosenAtDeploy(kept, settings.log_retention_days)


def _notification_email(
    parameter: cdk.CfnParameter, stack: cdk.Stack, _: WorkshopSettings
) -> tuple[str, ...]:
    """The address as the one notification email. The topic and the functions publishing to it
    exist either way (an empty topic costs nothing but its key); the subscription and the budget,
    which need an address, exist only when one is given."""
    given = cdk.CfnCondition(
        stack,
        "NotificationEmailGiven",
        expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(parameter.value_as_string, "")),
    )
    cdk.Aspects.of(stack).add(OnlyIf(given, (sns.CfnSubscription, budgets.CfnBudget)))
    return (parameter.value_as_string,)


@jsii.implements(cdk.IAspect)
class OnlyIf:
    """Every resource of the given types exists only under the condition."""

    def __init__(self, condition: cdk.CfnCondition, types: tuple[type[cdk.CfnResource], ...]):
        self.condition = condition
        self.types = types

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, self.types):
            node.cfn_options.condition = self.condition


BINDINGS: Mapping[str, Binding] = {
    "InstanceTypes": _instance_types,
    "NotificationEmail": _notification_email,
    "RetainBucket": _retain_bucket,
}


class WorkshopTemplateStack(WorkshopStack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: WorkshopSettings) -> None:
        synthesizer = AssetParameterSynthesizer()
        super().__init__(
            scope,
            construct_id,
            settings=settings,
            synthesizer=synthesizer,
            # CDK's usage metadata resource: nothing a template handed to others needs.
            analytics_reporting=False,
        )
        self.asset_synthesizer = synthesizer
        # The console shows the parameters in these groups instead of alphabetically.
        self.template_options.metadata = {
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {
                        "Label": {"default": "Where this template's assets are"},
                        "Parameters": [ASSETS_BUCKET_PARAMETER, ASSETS_PREFIX_PARAMETER],
                    },
                    {
                        "Label": {"default": "This account's workshop"},
                        "Parameters": [row.name for row in TEMPLATE_PARAMETERS],
                    },
                ]
            }
        }

    def bind_settings(self, settings: WorkshopSettings) -> WorkshopSettings:
        """One parameter per TEMPLATE_PARAMETERS row, its default the setting's value; the
        components get the parameter in the setting's place."""
        for row in TEMPLATE_PARAMETERS:
            parameter = cdk.CfnParameter(
                self, row.name, **definition(row, settings).cfn_parameter_arguments()
            )
            settings = replaced(
                settings, row.setting, BINDINGS[row.name](parameter, self, settings)
            )
        return settings


def replaced(settings: Namespace, setting: str, value: Any) -> Namespace:
    """The settings with one dotted setting's value replaced (they are read-only)."""
    head, _, rest = setting.partition(".")
    attribute = snake_case(head)
    current = vars(settings)
    new = replaced(current[attribute], rest, value) if rest else value
    return Namespace(**{**current, attribute: new})
