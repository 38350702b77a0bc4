"""The built-in corpus: Python source text that every Python installation carries.

``rnnkit demo`` and ``rnnkit train text`` without a corpus need text that is always there, with
no download: the source of a fixed list of pure-Python standard-library modules (about 740 KB on
CPython 3.11), found under ``sysconfig.get_paths()["stdlib"]`` and joined in the order of
:data:`MODULES`. It mixes code and English prose (docstrings and comments), so a model that has
learned it writes indented ``def`` blocks, ``self.`` attributes and sentences.

The text depends on the Python version (the modules change a little between releases), never on
anything else. Where an installation ships no ``.py`` sources, the modules' docstrings are used
instead (:func:`builtin_corpus` says which it used).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import sysconfig
from pathlib import Path

from ..errors import UserError

__all__ = ["MODULES", "builtin_corpus"]

# Standard-library modules written in Python, chosen for a mix of code and prose; in this order.
MODULES = (
    "argparse", "bisect", "calendar", "cmd", "code", "collections/__init__", "contextlib", "copy",
    "csv", "difflib", "fnmatch", "fractions", "functools", "gettext", "glob", "heapq", "numbers",
    "operator", "pprint", "queue", "random", "sched", "shlex", "shutil", "statistics", "string",
    "tempfile", "textwrap",
)  # fmt: skip


def _docstrings(module_name: str) -> str:
    """A module's docstring and those of its public classes and functions."""
    try:
        module = importlib.import_module(module_name.removesuffix("/__init__").replace("/", "."))
    except ImportError:
        return ""
    docs = [inspect.getdoc(module) or ""]
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            doc = inspect.getdoc(obj)
            if doc:
                docs.append(f"{name}\n{doc}")
    return "\n\n".join(d for d in docs if d)


def builtin_corpus() -> tuple[str, str]:
    """The built-in corpus text and a one-line description of where it came from.

    Raises:
        UserError: neither sources nor docstrings could be found (e.g. ``python -OO`` without
            sources); pass a corpus file instead.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in MODULES:
        path = root / f"{name}.py"
        try:
            parts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    version = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    if len(parts) >= len(MODULES) // 2:
        text = "\n\n".join(p.rstrip("\n") for p in parts) + "\n"
        return text, f"the source of {len(parts)} {version} standard-library modules in {root}"
    text = "\n\n".join(d for d in (_docstrings(n) for n in MODULES) if d)
    if len(text) < 10_000:
        raise UserError(
            f"no built-in corpus: this {version} has no standard-library sources under {root} "
            "and no docstrings; pass a text file as CORPUS"
        )
    return text + "\n", f"the docstrings of {len(MODULES)} {version} standard-library modules"
