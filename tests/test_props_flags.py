"""Property-based: any value of any numeric setting of any task either builds its config or is
refused with rnnkit's own error naming the setting — never another exception (issue 14)."""

from __future__ import annotations

import typing
from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.config import ConfigError, field_type
from rnnkit.tasks import TASKS
from rnnkit.tasks.run import defaults, section_class
from rnnkit.tasks.spec import SECTIONS

NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _numeric_fields() -> list[tuple[str, str, str]]:
    out = []
    for name, spec in TASKS.items():
        for section in SECTIONS:
            cls = section_class(spec, section)
            for f in fields(cls):
                kind = field_type(cls, f.name)
                optional = type(None) in typing.get_args(kind)
                args = [a for a in typing.get_args(kind) if a is not type(None)]
                scalar = args[0] if optional and len(args) == 1 else kind
                if scalar in (int, float) and not f.metadata.get("internal"):
                    out.append((name, section, f.name))
    return out


@pytest.mark.parametrize(("task", "section", "name"), _numeric_fields())
@settings(max_examples=25, deadline=None, database=None)
@given(value=NUMBERS)
def test_a_numeric_setting_builds_or_is_refused_by_name(
    task: str, section: str, name: str, value: float
) -> None:
    spec = TASKS[task]
    cls = section_class(spec, section)
    kind = field_type(cls, name)
    if (int in typing.get_args(kind) or kind is int) and isinstance(value, float):
        return  # argparse's type=int refuses a float before any config sees it
    values = {**defaults(spec, section), name: value}
    try:
        cls(**values)
    except ConfigError as e:
        assert e.name in (name, "cell", "activation", "recurrent_activation")
        assert str(e).startswith(e.name)
