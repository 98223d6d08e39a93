"""Template parameters derived from the settings' specs: CloudFormation accepts a parameter value
exactly when the settings accept the setting's value (except the checks a row names as unchecked),
and a check the template cannot make stops the derivation unless its row says why."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stacks.config import load_settings
from stacks.config.parameters import (
    TEMPLATE_PARAMETERS,
    ParameterError,
    TemplateParameter,
    definition,
    parameter_text,
    spec_of,
)
from stacks.config.settings import SettingsError
from stacks.training.runtime.workshop_runtime.specs import (
    Bool,
    Check,
    Choice,
    Fields,
    Int,
    List,
    Number,
    Rule,
    Str,
)

from ..conftest import cdk_json_context

ROWS = {row.name: row for row in TEMPLATE_PARAMETERS}


@pytest.fixture(scope="module")
def settings_():
    return load_settings(cdk_json_context())


def cloudformation_accepts(parameter, text: str) -> bool:
    """CloudFormation's checks of a parameter value: AllowedPattern (the whole value; each item of
    a CommaDelimitedList), AllowedValues, MinValue/MaxValue of a Number."""
    items = text.split(",") if parameter.type == "CommaDelimitedList" else [text]
    for item in items:
        if parameter.allowed_pattern is not None and not re.fullmatch(
            parameter.allowed_pattern, item
        ):
            return False
        if parameter.allowed_values is not None and item not in parameter.allowed_values:
            return False
        if parameter.type == "Number":
            try:
                number = float(item)
            except ValueError:
                return False
            low, high = parameter.min_value, parameter.max_value
            if (low is not None and number < low) or (high is not None and number > high):
                return False
    return True


def settings_accept(setting: str, value) -> bool:
    try:
        load_settings({**cdk_json_context(), f"workshop.{setting}": json.dumps(value)})
    except SettingsError:
        return False
    return True


instance_type_like = st.from_regex(
    r"(ml\.)?[a-z0-9.-]{0,12}(x?large)?", fullmatch=True
) | st.sampled_from(
    ["ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.p3.16xlarge", "ml..xlarge", "g4dn.xlarge", ""]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(instance_type_like, min_size=1, max_size=4, unique=True))
def test_instance_types_are_checked_as_the_setting_is(settings_, types):
    """Without duplicates (the one check the row lists as unchecked) the two agree."""
    parameter = definition(ROWS["InstanceTypes"], settings_)
    assert cloudformation_accepts(parameter, ",".join(types)) == settings_accept(
        "training.instanceTypes", types
    )


def test_an_empty_instance_type_list_is_refused_by_both(settings_):
    parameter = definition(ROWS["InstanceTypes"], settings_)
    assert not cloudformation_accepts(parameter, "")  # one empty item
    assert not settings_accept("training.instanceTypes", [])


def test_a_repeated_instance_type_is_the_one_documented_difference(settings_):
    parameter = definition(ROWS["InstanceTypes"], settings_)
    assert cloudformation_accepts(parameter, "ml.g5.xlarge,ml.g5.xlarge")
    assert not settings_accept("training.instanceTypes", ["ml.g5.xlarge", "ml.g5.xlarge"])
    assert set(ROWS["InstanceTypes"].unchecked) == {"unique"}


@pytest.mark.parametrize("text", ["true", "false", "True", "yes", "1", "", "false "])
def test_retain_bucket_takes_exactly_the_settings_booleans(settings_, text):
    parameter = definition(ROWS["RetainBucket"], settings_)
    # A parameter is text; the setting is the JSON boolean that text spells, if any.
    as_setting = {"true": True, "false": False}.get(text, text)
    assert cloudformation_accepts(parameter, text) == (
        isinstance(as_setting, bool) and settings_accept("retainBucket", as_setting)
    )


email_like = st.from_regex(r"[a-z.+]{0,6}@?[a-z0-9-]{0,6}(\.[a-z]{0,3})?", fullmatch=True) | (
    st.sampled_from(
        ["ana@example.com", "a.b+c@x.co.uk", "ana@example", "@example.com", "ana@-x.com", ""]
    )
)


@settings(max_examples=150, deadline=None)
@given(email_like)
def test_the_notification_email_is_checked_as_one_item_of_the_setting(settings_, email):
    """Empty is the empty list; anything else is a one-address list."""
    parameter = definition(ROWS["NotificationEmail"], settings_)
    assert parameter.type == "String"
    assert cloudformation_accepts(parameter, email) == settings_accept(
        "notificationEmails", [email] if email else []
    )


def test_the_notification_email_takes_no_list_and_the_template_no_two_addresses(settings_):
    parameter = definition(ROWS["NotificationEmail"], settings_)
    assert not cloudformation_accepts(parameter, "ana@example.com,bo@example.com")
    two = load_settings(
        {**cdk_json_context(), "workshop.notificationEmails": '["a@x.org", "b@x.org"]'}
    )
    with pytest.raises(ParameterError, match="notificationEmails: the template takes one value"):
        definition(ROWS["NotificationEmail"], two)


def test_each_parameter_defaults_to_the_settings_value():
    changed = load_settings(
        {
            **cdk_json_context(),
            "workshop.retainBucket": "true",
            "workshop.training.instanceTypes": '["ml.g5.xlarge"]',
            "workshop.notificationEmails": '["ana@example.com"]',
        }
    )
    assert definition(ROWS["NotificationEmail"], changed).default == "ana@example.com"
    assert definition(ROWS["RetainBucket"], changed).default == "true"
    assert definition(ROWS["InstanceTypes"], changed).default == "ml.g5.xlarge"


def test_constraint_descriptions_name_the_setting_and_its_rule(settings_):
    described = {
        row.name: definition(row, settings_).constraint_description for row in ROWS.values()
    }
    assert described == {
        "InstanceTypes": "workshop.training.instanceTypes: comma-separated, at least one, each "
        "must be a SageMaker instance type such as 'ml.g4dn.xlarge'",
        "NotificationEmail": "workshop.notificationEmails: must be an email address such as "
        "'ana@example.com', or be empty for none",
        "RetainBucket": "workshop.retainBucket: true or false",
    }


def test_every_row_names_a_setting_and_its_binding_exists():
    from stacks.workshop_template.stack import BINDINGS

    assert set(BINDINGS) == set(ROWS)
    for row in TEMPLATE_PARAMETERS:
        spec_of(row.setting)


# --- the derivation on tables of its own -----------------------------------------------------


def row(setting, **unchecked):
    return TemplateParameter(setting, "P", "a parameter", unchecked=unchecked)


def values(**kwargs):
    from types import SimpleNamespace

    return SimpleNamespace(**kwargs)


TABLE = Fields(
    fields={
        "count": Int(minimum=1, maximum=9, default=2),
        "share": Number(minimum=0, maximum=1, exclusive=True, default=0.5),
        "days": Choice(values=(1, 7, 30), default=7),
        "name": Str(pattern=r"[a-z]+", default="ab", checks=(Check(lambda v: v != "x", "no x"),)),
        "first": Str(pattern=r"[a-z]+", default="a"),
        "second": Str(pattern=r"[a-z]+", default="b"),
        "tags": List(item=Str(pattern=r"[a-z]*"), min_items=1, default=["a"]),
        "emails": List(item=Str(pattern=r"[a-z]+@[a-z]+"), default=[]),
        "group": Fields(fields={"inner": Bool(default=True)}),
    },
    rules=(Rule(at="first", needs=("second",), holds=lambda v: True, explain=lambda v: ""),),
)


def test_an_int_becomes_a_number_only_with_the_whole_number_check_waived():
    with pytest.raises(ParameterError, match="cannot check its whole number"):
        definition(row("count"), values(count=2), TABLE)
    made = definition(
        row("count", **{"whole number": "rounded by the handler"}), values(count=2), TABLE
    )
    assert (made.type, made.min_value, made.max_value, made.default) == ("Number", 1, 9, "2")


def test_exclusive_bounds_and_python_checks_and_rules_need_a_reason():
    with pytest.raises(ParameterError, match="exclusive bounds"):
        definition(row("share"), values(share=0.5), TABLE)
    with pytest.raises(ParameterError, match="its checks"):
        definition(row("name"), values(name="ab"), TABLE)
    with pytest.raises(ParameterError, match="rule first"):
        definition(row("second"), values(second="b"), TABLE)
    made = definition(
        row("second", **{"rule first": "checked by the handler"}), values(second="b"), TABLE
    )
    assert made.allowed_pattern == "[a-z]+"


def test_a_stale_reason_is_refused():
    with pytest.raises(ParameterError, match="names no check"):
        definition(row("days", unique="no such check"), values(days=7), TABLE)


def test_numeric_choices_are_number_allowed_values():
    made = definition(row("days"), values(days=7), TABLE)
    assert (made.type, made.allowed_values, made.default) == ("Number", ["1", "7", "30"], "7")


def test_a_list_whose_items_may_be_empty_has_no_at_least_one_form():
    with pytest.raises(ParameterError, match="at least 1 has no parameter form"):
        definition(row("tags"), values(tags=("a",)), TABLE)


def test_a_nested_setting_reads_its_group():
    made = definition(row("group.inner"), values(group=values(inner=False)), TABLE)
    assert (made.allowed_values, made.default) == (["true", "false"], "false")


def test_a_group_or_unknown_setting_is_refused():
    with pytest.raises(ParameterError, match="has no parameter form"):
        definition(row("group"), values(group=values(inner=True)), TABLE)
    with pytest.raises(ParameterError, match="no such setting"):
        definition(row("missing"), values(), TABLE)


def test_parameter_text_is_what_cloudformation_passes():
    assert parameter_text(Bool(), True) == "true"
    assert parameter_text(List(item=Str()), ("a", "b")) == "a,b"
    assert parameter_text(Int(), 3) == "3"


def test_a_list_that_may_be_empty_takes_the_empty_value_and_says_what_goes_unchecked():
    """notificationEmails-like: no items is allowed, so CloudFormation must take an empty value,
    which is one empty item: the pattern lets it through, and empty items go unchecked."""
    with pytest.raises(ParameterError, match="empty items"):
        definition(row("emails"), values(emails=()), TABLE)
    made = definition(
        row("emails", **{"empty items": "an empty address is skipped"}), values(emails=()), TABLE
    )
    assert (made.type, made.default) == ("CommaDelimitedList", "")
    assert cloudformation_accepts(made, "")
    assert cloudformation_accepts(made, "a@b,c@d")
    assert not cloudformation_accepts(made, "a@b,not-an-address")


def test_one_item_of_a_list_is_a_string_that_may_be_empty():
    one = TemplateParameter("emails", "P", "a parameter", one_item=True)
    made = definition(one, values(emails=("a@b",)), TABLE)
    assert (made.type, made.default) == ("String", "a@b")
    assert definition(one, values(emails=()), TABLE).default == ""
    assert cloudformation_accepts(made, "") and not cloudformation_accepts(made, "a@b,c@d")
    with pytest.raises(ParameterError, match="takes one value per account"):
        definition(one, values(emails=("a@b", "c@d")), TABLE)
    with pytest.raises(ParameterError, match="one-item form"):
        definition(TemplateParameter("count", "P", "p", one_item=True), values(count=2), TABLE)
