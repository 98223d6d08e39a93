"""Values that may be known only at deploy time (a template parameter) as well as at synth time."""

from __future__ import annotations

import json
from collections.abc import Sequence

import aws_cdk as cdk


def json_string_list(values: Sequence[str]) -> str:
    """A JSON array of the strings, for an environment variable. A deploy-time list (a
    CommaDelimitedList parameter) is joined by CloudFormation; its items must hold no quote or
    backslash, which the parameter's AllowedPattern ensures (stacks/config/parameters.py)."""
    items = list(values)  # settings hold tuples, which jsii cannot pass
    if cdk.Token.is_unresolved(items):
        return '["' + cdk.Fn.join('","', items) + '"]'
    return json.dumps(items)
