"""The spec machinery behind the settings and hyperparameter tables: types, limits, paths, rules."""

import pytest

from stacks.training.runtime.workshop_runtime.specs import (
    API,
    SETTINGS,
    Bool,
    Check,
    Choice,
    Fields,
    Flag,
    Int,
    IntList,
    List,
    Number,
    Rule,
    SpecError,
    Str,
    join_path,
    leaves,
    shown,
    validate,
)


def problems(table, value, **kwargs) -> list[str]:
    with pytest.raises(SpecError) as raised:
        validate(table, value, root="root", **kwargs)
    return [problem.message for problem in raised.value.problems]


def one(table, value, **kwargs) -> str:
    (message,) = problems(table, value, **kwargs)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("epochs", "root.epochs"),
        (3, "root[3]"),
        ("\n", "root['\\n']"),
        ("a.b", "root['a.b']"),
        ("", "root['']"),
        ("with space", "root['with space']"),
    ],
)
def test_keys_that_are_not_plain_names_are_shown_with_repr(key, path):
    assert join_path("root", key) == path


def test_an_unknown_key_with_a_newline_gives_one_line():
    table = Fields(fields={"epochs": Int(default=1)})
    assert one(table, {"\n": None}).startswith("root['\\n']: unknown setting.")


def test_the_two_dialects_word_the_same_problem_for_their_readers():
    settings = Fields(fields={"size": Int(minimum=1)})
    api = Fields(fields={"size": Int(minimum=1)}, dialect=API)
    assert one(settings, {"size": 0}) == "root.size: 0 must be a positive integer"
    assert one(api, {"size": 0}) == "root.size = 0: must be a whole number >= 1"
    # Settings take JSON types as they are; the API form arrives as strings.
    assert one(settings, {"size": "5"}) == 'root.size: expected an integer, got string "5"'
    assert validate(api, {"size": " 5 "}, root="root") == {"size": "5"}


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        (Int(minimum=5, maximum=10), 11, "11 must be between 5 and 10"),
        (Int(minimum=2), 1, "1 must be an integer >= 2"),
        (Number(minimum=0, maximum=1, exclusive=True), 1, "1 must be a number in (0, 1)"),
        (Number(minimum=0, maximum=1), 1.5, "1.5 must be a number in [0, 1]"),
        (Choice(values=(1, 3)), 2, "2 must be one of 1, 3"),
        (Choice(values=(1, 3), reason="is not one of 1, 3"), 2, "2 is not one of 1, 3"),
        (Str(pattern=r"[a-z]+", reason="must be lower case"), "Ab", "'Ab' must be lower case"),
        (Str(pattern=r"[a-z]+"), "a\n", "'a\\n' must match [a-z]+"),
        (
            Str(checks=(Check(lambda s: s != "x", "{value} is taken"),)),
            "x",
            "x is taken",
        ),
        (Bool(), "true", 'expected true or false, got string "true"'),
        (List(item=Str()), "a", 'expected a list of strings, got string "a"'),
    ],
)
def test_settings_messages(spec, value, message):
    assert one(Fields(fields={"x": spec}), {"x": value}) == f"root.x: {message}"


@pytest.mark.parametrize(
    ("spec", "value", "reason"),
    [
        (Int(minimum=1), True, "must be a whole number, not true/false"),
        (Int(minimum=1), 2.5, "must be a whole number"),
        (Int(minimum=1), [1], "must be a whole number, not a list"),
        (Number(), "nan", "must be a finite number"),
        (Number(), 10**400, "must be a finite number"),
        (Choice(values=("a", "b")), 5, "must be one of a, b"),
        (Flag(), 2, "must be 0 or 1"),
        (Bool(), "yes", "must be True or False"),
        (IntList(reason="must be increasing", holds=lambda p: list(p) == sorted(p)), "2,1", None),
    ],
)
def test_api_messages(spec, value, reason):
    table = Fields(fields={"x": spec}, dialect=API)
    message = one(table, {"x": value})
    assert message == f"root.x = {shown(value)}: {reason or spec.reason}"


def test_api_form_of_each_kind():
    table = Fields(
        dialect=API,
        fields={
            "n": Int(),
            "f": Number(),
            "b": Bool(),
            "flag": Flag(),
            "shape": IntList(reason="three numbers", length=3),
            "one": IntList(reason="numbers"),
        },
    )
    value = {"n": 4.0, "f": "1e-8", "b": "FALSE", "flag": True, "shape": [3, 2, 1], "one": 7}
    assert validate(table, value, root="root") == {
        "n": "4",
        "f": "1e-08",
        "b": "False",
        "flag": "1",
        "shape": "3,2,1",
        "one": "7",
    }


def test_unknown_keys_suggest_the_close_name_and_list_the_known():
    table = Fields(
        fields={"instanceTypes": List(item=Str(), default=[]), "volumeSizeGb": Int(default=1)}
    )
    assert one(table, {"instanceType": []}) == (
        "root.instanceType: unknown setting. Did you mean instanceTypes? "
        "Known: instanceTypes, volumeSizeGb"
    )


def test_groups_fill_defaults_and_name_what_is_missing():
    entry = Fields(fields={"account": Str(), "region": Str(), "profile": Str(default="")})
    table = Fields(
        fields={
            "group": Fields(fields={"size": Int(default=3)}),
            "entries": List(item=entry, default=[]),
        }
    )
    settings = validate(table, {}, root="root")
    assert settings.group.size == 3 and settings.entries == ()
    message = one(table, {"entries": [{"account": "1"}]})
    assert message == "root.entries[0].region: expected a string, but it is missing"
    settings = validate(table, {"entries": [{"account": "1", "region": "r"}]}, root="root")
    assert vars(settings.entries[0]) == {"account": "1", "region": "r", "profile": ""}
    with pytest.raises(AttributeError):
        settings.group.size = 4


def test_a_default_of_none_makes_a_field_optional():
    entry = Fields(fields={"account": Str(), "profile": Str(default=None)})
    table = Fields(fields={"entries": List(item=entry, default=[])})
    (first, second) = validate(
        table, {"entries": [{"account": "1"}, {"account": "2", "profile": "p"}]}, root="root"
    ).entries
    assert (first.profile, second.profile) == (None, "p")
    assert one(table, {"entries": [{"account": "1", "profile": 3}]}) == (
        "root.entries[0].profile: expected a string, got integer 3"
    )


def test_tables_without_defaults_filled_return_only_what_was_given():
    table = Fields(
        fields={"epochs": Int(default=30), "top_k": Int()}, dialect=API, fill_defaults=False
    )
    assert validate(table, {"top_k": 2}, root="root") == {"top_k": "2"}
    assert (
        one(table, {}, require=("epochs",)) == "root.epochs: expected an integer, but it is missing"
    )


def test_lists_refuse_too_few_and_repeated_items():
    spec = List(item=Str(), min_items=1, item_name="instance type", unique=True)
    table = Fields(fields={"types": spec})
    assert one(table, {"types": []}) == "root.types: must list at least one instance type"
    assert (
        one(table, {"types": ["a", "b", "a"]}) == "root.types[2]: 'a' is listed twice (also at [0])"
    )
    entries = List(item=Fields(fields={"k": Str(), "v": Str()}), unique=("k",))
    table = Fields(fields={"entries": entries})
    assert one(table, {"entries": [{"k": "a", "v": "1"}, {"k": "a", "v": "2"}]}) == (
        "root.entries[1]: has the same k as [0]"
    )


def test_every_problem_is_reported_in_order():
    table = Fields(fields={"a": Int(minimum=1), "b": Int(minimum=1)})
    assert problems(table, {"b": 0, "a": 0}) == [
        "root.b: 0 must be a positive integer",
        "root.a: 0 must be a positive integer",
    ]


ORDERED = Fields(
    dialect=API,
    fill_defaults=False,
    fields={"low": Int(minimum=0), "high": Int(minimum=0, default=10)},
    rules=(
        Rule(
            at="low",
            needs=("high",),
            holds=lambda v: v["low"] <= v["high"],
            explain=lambda v: f"must be no greater than {v.describe('high')}",
        ),
    ),
)


def test_a_rule_reads_a_given_value_or_the_default():
    assert one(ORDERED, {"low": 11}) == "root.low = 11: must be no greater than the default high 10"
    assert one(ORDERED, {"low": 5, "high": 4}) == (
        "root.low = 5: must be no greater than root.high = 4"
    )
    assert validate(ORDERED, {"low": 10}, root="root") == {"low": "10"}


def test_a_rule_is_skipped_when_a_value_it_reads_is_already_invalid():
    assert one(ORDERED, {"low": 11, "high": -1}) == "root.high = -1: must be a whole number >= 0"


def test_a_rule_runs_only_when_its_value_is_given():
    assert validate(ORDERED, {"high": 4}, root="root") == {"high": "4"}


def test_values_can_be_named_per_key_when_they_come_from_several_sources():
    source = {"low": "DEFAULTS", "high": "input"}
    message = one(ORDERED, {"low": 5, "high": 4}, name_of=lambda key: f"{source[key]}.{key}")
    assert message == "DEFAULTS.low = 5: must be no greater than input.high = 4"


def test_rules_reach_into_nested_tables():
    table = Fields(
        fields={
            "size": Int(default=100),
            "inner": Fields(
                fields={"shape": IntList(reason="numbers", default="3,224,224")},
                dialect=API,
                fill_defaults=False,
                default={},
            ),
        },
        rules=(
            Rule(
                at="size",
                needs=("inner.shape",),
                holds=lambda v: v["size"] >= max(v["inner.shape"]),
                explain=lambda v: f"is smaller than {v.name('inner.shape')} {v.text('inner.shape')}",
            ),
        ),
    )
    assert one(table, {}) == "root.size: 100 is smaller than root.inner.shape 3,224,224"
    assert validate(table, {"inner": {"shape": "1,28,28"}}, root="root").size == 100


def test_leaves_walk_groups_but_not_open_tables():
    table = Fields(
        fields={
            "a": Int(),
            "group": Fields(fields={"b": Int()}),
            "table": Fields(fields={"c": Int()}, fill_defaults=False, default={}),
        }
    )
    assert [name for name, _ in leaves(table)] == ["a", "group.b", "table"]


def test_dialects_are_distinct():
    assert SETTINGS.lenient is False and API.lenient is True
