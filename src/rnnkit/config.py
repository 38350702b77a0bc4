"""Typed configs: small dataclasses whose fields are the settings, checked in one place.

Each config (the layer, the training, a task's data and model) is a ``@dataclass`` whose fields
are declared with :func:`option`: a default, one line of help, and the range the value must lie
in. From that one declaration come

* the check (:func:`check`, called by each config's ``__post_init__``), which names the field;
* the command line: ``rnnkit train`` makes one flag per field, ``hidden_size`` -> ``--hidden-size``
  (:mod:`rnnkit.cli.flags`), with its help and default; older spellings stay as aliases;
* the JSON in a run's ``config.json`` (:func:`to_json`, :func:`from_json`, which refuses keys it
  does not know).

>>> from dataclasses import dataclass
>>> @dataclass
... class Window:
...     size: int = option(8, "steps per window", low=1)
...     def __post_init__(self) -> None:
...         check(self)
>>> Window(0)
Traceback (most recent call last):
...
rnnkit.config.ConfigError: size must be at least 1, got 0
>>> from_json(Window, {"size": 3})
Window(size=3)
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, Field, fields
from typing import Any, TypeVar

__all__ = [
    "ConfigError",
    "check",
    "default_of",
    "defaults",
    "field_type",
    "from_json",
    "option",
    "to_json",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting out of range; ``name`` is the field (the CLI shows it as its flag)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name} {message}")
        self.name = name
        self.detail = message


def option(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: Sequence[Any] | None = None,
    aliases: Sequence[str] = (),
    metavar: str | None = None,
    fixed: bool = True,
    internal: bool = False,
) -> Any:
    """A config field: its default, its help, and what values it accepts.

    Args:
        low, high: the inclusive range (``low_open``/``high_open`` exclude the end).
        choices: the allowed values.
        aliases: older flag spellings, still accepted with a deprecation notice (``"--hidden"``).
        fixed: ``False`` for a setting a resumed run may change (time budget, step limit, ...).
        internal: set by the task itself (e.g. once it has resolved DATA), never a flag.
    """
    meta = {"help": help, "low": low, "high": high, "low_open": low_open,
            "high_open": high_open, "choices": None if choices is None else tuple(choices),
            "aliases": tuple(aliases), "metavar": metavar, "fixed": fixed,
            "internal": internal}  # fmt: skip
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


_UNOFFERED = {"word-v1", "builtin", "table"}  # values a config reads but a user does not choose


def _bound(v: float) -> str:
    """A range bound as written: integers whole (``9223372036854775807``, not ``9.22337e+18``)."""
    return str(v) if isinstance(v, int) else f"{v:g}"


def _describe_range(m: Mapping[str, Any]) -> str:
    low, high = m["low"], m["high"]
    if low is not None and high is not None:
        left, right = ("(" if m["low_open"] else "["), (")" if m["high_open"] else "]")
        return f"in {left}{_bound(low)}, {_bound(high)}{right}"
    if low is not None:
        return f"greater than {_bound(low)}" if m["low_open"] else f"at least {_bound(low)}"
    assert high is not None
    return f"less than {_bound(high)}" if m["high_open"] else f"at most {_bound(high)}"


def _check_value(f: Field[Any], value: Any) -> None:
    m = f.metadata
    if not m or value is None:
        return
    if m["choices"] is not None and value not in m["choices"]:
        want = ", ".join(str(c) for c in m["choices"] if c not in _UNOFFERED)
        raise ConfigError(f.name, f"{value!r} is unknown; choose one of {want}")
    values = value if isinstance(value, (tuple, list)) else [value]
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f.name, f"must be a finite number, got {value!r}")
        if m["low"] is None and m["high"] is None:
            continue
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        low_bad = m["low"] is not None and (v <= m["low"] if m["low_open"] else v < m["low"])
        high_bad = m["high"] is not None and (v >= m["high"] if m["high_open"] else v > m["high"])
        if low_bad or high_bad:
            raise ConfigError(f.name, f"must be {_describe_range(m)}, got {value!r}")


def check(config: Any) -> None:
    """Check every field of a config against its :func:`option` declaration.

    Raises:
        ConfigError: the first field out of range (its name and the value).
    """
    for f in fields(config):
        _check_value(f, getattr(config, f.name))


def field_type(cls: type, name: str) -> Any:
    """The resolved type annotation of field ``name`` of dataclass ``cls``."""
    return typing.get_type_hints(cls)[name]


def to_json(config: Any) -> dict[str, Any]:
    """The config as a JSON-ready dict (tuples become lists)."""
    return {
        f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v
        for f in fields(config)
    }


def from_json(cls: type[T], data: Mapping[str, Any], source: str = "config") -> T:
    """Rebuild a config from :func:`to_json`'s dict; unknown keys and bad values are refused.

    Raises:
        ConfigError: an unknown key, a value of the wrong kind or out of range.
    """
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(unknown[0], f"is not a setting {source} knows")
    values: dict[str, Any] = {}
    for name, value in data.items():
        kind = field_type(cls, name)
        origin = typing.get_origin(kind)
        if origin is tuple and isinstance(value, list):
            value = tuple(value)
        if not _fits(kind, value):
            raise ConfigError(name, f"in {source} has the wrong kind of value: {value!r}")
        values[name] = value
    try:
        return cls(**values)
    except TypeError as e:
        raise ConfigError(cls.__name__, f"cannot be built from {source}: {e}") from e


def _fits(kind: Any, value: Any) -> bool:
    """Whether a JSON value fits a field's annotation (scalars and their optionals)."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_fits(a, value) for a in args)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if typing.get_origin(kind) in (tuple, list):
        inner = args[0] if args else Any
        return isinstance(value, (tuple, list)) and all(
            inner is Any or inner is Ellipsis or _fits(inner, v) for v in value
        )
    return True


def default_of(f: Field[Any]) -> Any:
    """A field's default value (calling its factory)."""
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise ValueError(f"{f.name} has no default")


def defaults(cls: type) -> dict[str, Any]:
    """Every field's default of config class ``cls``, by name."""
    return {f.name: default_of(f) for f in fields(cls)}
