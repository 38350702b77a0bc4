"""Command-line flags made from the typed configs: one flag per field, nothing written by hand.

:func:`add_config_flags` adds a group of flags for a config class: field ``hidden_size`` becomes
``--hidden-size`` with the field's help, range and the task's default in ``--help``. Every flag
defaults to ``None`` so a command can tell "not given" from a value (a resumed run keeps what
was not given); :func:`given` collects what was given, by section and field name. An older
spelling (``--hidden``, ``--batch``, ``--embed``) still works and prints a one-line notice.
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from ..config import _UNOFFERED, field_type
from ..tasks.run import flag

__all__ = ["add_config_flags", "given"]

_SEP = "."  # dest = "<section>.<field>"


class _Deprecated(argparse.Action):
    """An old spelling: store the value under the new flag's dest, and say so once."""

    def __init__(self, *args: Any, new: str, const_value: Any = None, **kwargs: Any) -> None:
        self.new = new
        self.const_value = const_value
        super().__init__(*args, **kwargs)

    def __call__(
        self, parser: argparse.ArgumentParser, ns: argparse.Namespace, values: Any, opt: Any = None
    ) -> None:
        print(f"rnnkit: note: {opt} is deprecated; use {self.new}", file=sys.stderr)
        setattr(ns, self.dest, self.const_value if self.nargs == 0 else values)


def _scalar(kind: Any) -> tuple[Any, bool]:
    """(the scalar type of an annotation, whether it is optional)."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return args[0], True
    return kind, False


def _comma_list(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def add_config_flags(
    parser: argparse.ArgumentParser,
    title: str,
    section: str,
    cls: type,
    defaults: Mapping[str, Any],
    hidden: set[str] | frozenset[str] = frozenset(),
) -> None:
    """One flag per field of dataclass ``cls`` (except internal and ``hidden`` ones).

    Args:
        defaults: the defaults shown in ``--help`` (the task's, over the config's own).
    """
    group = parser.add_argument_group(title)
    for f in fields(cls):
        m = f.metadata
        if not m or m.get("internal") or f.name in hidden:
            continue
        kind, _ = _scalar(field_type(cls, f.name))
        default = defaults.get(f.name)
        shown = "" if default is None or kind is bool else f" (default {default})"
        choices = [c for c in (m.get("choices") or ()) if c not in _UNOFFERED]
        if choices and not m["help"].startswith(f"{choices[0]}"):
            shown = f"; one of {', '.join(map(str, choices))}" + shown
        if f.metadata.get("fixed") is False:
            shown += "; may change on --resume"
        kw: dict[str, Any] = {"dest": f"{section}{_SEP}{f.name}", "default": None,
                              "help": m["help"] + shown}  # fmt: skip
        if kind is bool:
            kw["action"] = "store_true"
        else:
            if typing.get_origin(kind) is tuple:
                kw.update(nargs=len(typing.get_args(kind)), type=typing.get_args(kind)[0])
            elif typing.get_origin(kind) is list:
                kw["type"] = _comma_list
            else:
                kw["type"] = kind
            kw["metavar"] = m.get("metavar") or (
                "N" if kind is int else "X" if kind is float else "VALUE"
            )
        new = flag(f.name)
        group.add_argument(new, **kw)
        for old in m.get("aliases", ()):
            alias_kw = {k: v for k, v in kw.items() if k not in ("action",)}
            if kind is bool:
                alias_kw.update(nargs=0, const_value=True)
            alias_kw["help"] = argparse.SUPPRESS
            group.add_argument(old, action=_Deprecated, new=new, **alias_kw)


def add_extra_flags(
    parser: argparse.ArgumentParser, extra: Mapping[str, tuple[str, str, Any]]
) -> None:
    """Deprecated flags that set a field to a fixed value (``--one-hot`` -> embedding 0)."""
    for old, (section, name, value) in extra.items():
        parser.add_argument(old, action=_Deprecated, nargs=0, new=f"{flag(name)} {value}",
                            const_value=value, dest=f"{section}{_SEP}{name}",
                            default=None, help=argparse.SUPPRESS)  # fmt: skip


def given(args: argparse.Namespace, sections: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What was given on the command line: ``{section: {field: value}}``."""
    out: dict[str, dict[str, Any]] = {s: {} for s in sections}
    for dest, value in vars(args).items():
        section, sep, name = dest.partition(_SEP)
        if sep and section in out and value is not None:
            out[section][name] = (
                tuple(value) if isinstance(value, list) and name == "betas" else value
            )
    return out
