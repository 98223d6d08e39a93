"""Property test: any `-c workshop.X=VALUE` either loads or fails with one SettingsError naming a setting."""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from stacks.config.settings import SettingsError, load_settings

from ..conftest import cdk_json_context

CONTEXT = cdk_json_context()


def _paths(block, prefix="workshop"):
    for key, value in block.items():
        path = f"{prefix}.{key}"
        yield path
        if isinstance(value, dict):
            yield from _paths(value, path)


KNOWN_PATHS = sorted(_paths(CONTEXT["workshop"]))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
override_values = json_values.map(json.dumps) | st.text(max_size=20) | json_values
paths = (
    st.sampled_from(KNOWN_PATHS)
    | st.sampled_from(KNOWN_PATHS).map(lambda p: p + ".extra")
    | st.text(alphabet="abcz.", min_size=1, max_size=12).map(lambda t: "workshop." + t)
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.dictionaries(paths, override_values, max_size=3))
@example({"workshop.training": '{"\\n": null}'})
def test_any_override_loads_or_names_the_setting(overrides):
    try:
        load_settings({**CONTEXT, **overrides})
    except SettingsError as error:
        message = str(error)
        assert message.startswith("workshop") and "\n" not in message, message
