"""Sequences from the files users have: text tables (CSV/JSONL), long-format CSV, and ``.npz``.

* Text classification: a CSV (or TSV) with a header, or JSON Lines, one example per row; the text
  and label columns are chosen by name (``text`` and ``label`` by default).
* Numeric sequences in long format: one row per time step with a sequence id column, a step column,
  feature columns and a label column (constant within a sequence). Rows may come in any order;
  each sequence is sorted by step.
* ``.npz``: ``X`` padded ``(N, T, F)`` (or ``(N, T)`` for one feature), optional ``lengths (N,)``
  (all ``T`` when absent) and ``y (N,)`` (absent for data to predict). Object arrays are refused:
  loading never unpickles.

Every loader checks what it reads and raises :class:`~rnnkit.errors.UserError` with a message that
names the file and the line, row or sequence: a missing column (listing the columns there are), an
empty sequence, a row with the wrong number of fields, a NaN or infinite value.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

__all__ = [
    "NumericRecords",
    "Table",
    "TextRecords",
    "check_npz_targets",
    "label_text",
    "label_value",
    "long_records",
    "read_long_csv",
    "read_npz",
    "read_table",
    "text_records",
]

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass
class Table:
    """Rows of a CSV or JSONL file as dictionaries, with where each came from (``"line 7"``)."""

    source: str
    columns: list[str]
    rows: list[dict[str, Any]]
    where: list[str]

    def require(self, column: str, option: str) -> None:
        """Raise a :class:`UserError` listing the columns when ``column`` is not one of them."""
        if column not in self.columns:
            have = ", ".join(self.columns) or "none"
            raise UserError(
                f"{self.source}: no column {column!r} (columns: {have}); choose one with {option}"
            )


@dataclass
class TextRecords:
    """Texts and their labels (raw values; ``None`` when the file has no label column)."""

    source: str
    texts: list[str]
    labels: list[Any] | None
    where: list[str]


@dataclass
class NumericRecords:
    """Numeric sequences: ``seqs[n]`` is ``(T_n, F)`` float32; labels are raw values or ``None``."""

    source: str
    seqs: list[np.ndarray]
    labels: list[Any] | None
    where: list[str]
    feature_names: list[str]


def _open_text(path: Path) -> str:
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e


def read_table(path: str | Path) -> Table:
    """Read a CSV/TSV (with a header) or JSON Lines file into a :class:`Table`.

    A CSV row with more or fewer fields than the header is an error naming its line.
    """
    path = Path(path)
    text = _open_text(path)
    if path.suffix.lower() in JSONL_SUFFIXES:
        return _read_jsonl(path, text)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise UserError(f"{path}: empty file (expected a header line)") from None
    except csv.Error as e:
        raise UserError(f"{path} line 1: {e}") from e
    header = [h.strip() for h in header]
    rows, where = [], []
    try:
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(header):
                raise UserError(
                    f"{path} line {reader.line_num}: {len(fields)} fields, expected {len(header)} "
                    f"({', '.join(header)})"
                )
            rows.append(dict(zip(header, fields, strict=True)))
            where.append(f"line {reader.line_num}")
    except csv.Error as e:
        raise UserError(f"{path} line {reader.line_num}: {e}") from e
    return Table(str(path), header, rows, where)


def _read_jsonl(path: Path, text: str) -> Table:
    columns: dict[str, None] = {}
    rows, where = [], []
    for k, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path} line {k}: not valid JSON ({e.msg})") from e
        if not isinstance(obj, dict):
            raise UserError(f"{path} line {k}: expected a JSON object, got {type(obj).__name__}")
        columns.update(dict.fromkeys(obj))
        rows.append(obj)
        where.append(f"line {k}")
    return Table(str(path), list(columns), rows, where)


def _cell(table: Table, i: int, column: str) -> Any:
    value = table.rows[i].get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UserError(f"{table.source} {table.where[i]}: {column!r} is empty")
    return value


def text_records(table: Table, text_column: str, label_column: str | None) -> TextRecords:
    """Texts from ``text_column`` and labels from ``label_column`` (``None``: no labels)."""
    table.require(text_column, "--text-column")
    if label_column is not None:
        table.require(label_column, "--label-column")
    if not table.rows:
        raise UserError(f"{table.source}: no rows")
    texts = []
    for i in range(len(table.rows)):
        value = _cell(table, i, text_column)
        if not isinstance(value, str):
            raise UserError(
                f"{table.source} {table.where[i]}: {text_column!r} is not text: {value!r}"
            )
        texts.append(value)
    labels = (
        None
        if label_column is None
        else [_cell(table, i, label_column) for i in range(len(table.rows))]
    )
    return TextRecords(table.source, texts, labels, list(table.where))


def label_text(value: Any) -> str:
    """A class label as text: ``1``, ``1.0`` and ``"1"`` are all ``"1"``.

    >>> label_text(3.0), label_text("pos"), label_text(np.int64(2))
    ('3', 'pos', '2')
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if (
        isinstance(value, (float, np.floating))
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        return str(int(value))
    return str(value).strip()


def label_value(value: Any, source: str, where: str) -> float:
    """A regression target as a finite float, or a :class:`UserError` naming the row."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{source} {where}: target {value!r} is not a number") from None
    if not math.isfinite(v):
        raise UserError(f"{source} {where}: target is {v} (targets must be finite numbers)")
    return v


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _feature(value: Any, source: str, where: str, name: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UserError(f"{source} {where}: feature {name!r} is empty")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{source} {where}: feature {name!r} is not a number: {value!r}") from None
    if not math.isfinite(v):
        raise UserError(
            f"{source} {where}: feature {name!r} is {v} (features must be finite numbers)"
        )
    if abs(v) > _FLOAT32_MAX:
        raise UserError(
            f"{source} {where}: feature {name!r} is {v:g}, beyond float32's range (±3.4e38)"
        )
    return v


def read_long_csv(
    path: str | Path,
    id_column: str = "id",
    step_column: str = "step",
    label_column: str | None = "label",
    feature_columns: list[str] | None = None,
) -> NumericRecords:
    """Sequences from a long-format table: one row per (sequence, step).

    Args:
        id_column, step_column: which columns name the sequence and order its steps.
        label_column: the per-sequence label (must be the same on all its rows); ``None``: none.
        feature_columns: the features; default every other column.
    """
    return long_records(read_table(path), id_column, step_column, label_column, feature_columns)


def long_records(
    table: Table,
    id_column: str = "id",
    step_column: str = "step",
    label_column: str | None = "label",
    feature_columns: list[str] | None = None,
) -> NumericRecords:
    """:func:`read_long_csv` on a table already read."""
    table.require(id_column, "--id-column")
    table.require(step_column, "--step-column")
    if label_column is not None:
        table.require(label_column, "--label-column")
    taken = {id_column, step_column, label_column}
    if feature_columns is None:
        feature_columns = [c for c in table.columns if c not in taken]
    for c in feature_columns:
        table.require(c, "--feature-columns")
    if not feature_columns:
        raise UserError(
            f"{table.source}: no feature columns besides {', '.join(str(c) for c in taken if c)}"
        )
    if not table.rows:
        raise UserError(f"{table.source}: no rows")
    steps: dict[str, list[tuple[float, list[float], str]]] = {}
    labels: dict[str, Any] = {}
    for i, row in enumerate(table.rows):
        where = table.where[i]
        sid = label_text(_cell(table, i, id_column))
        step = _feature(row.get(step_column), table.source, where, step_column)
        values = [_feature(row.get(c), table.source, where, c) for c in feature_columns]
        steps.setdefault(sid, []).append((step, values, where))
        if label_column is not None:
            lab = _cell(table, i, label_column)
            if sid in labels and label_text(labels[sid]) != label_text(lab):
                raise UserError(
                    f"{table.source} {where}: sequence {sid!r} changes its {label_column!r} from "
                    f"{labels[sid]!r} to {lab!r} (one label per sequence)"
                )
            labels.setdefault(sid, lab)
    seqs = []
    for sid, rows in steps.items():
        rows.sort(key=lambda r: r[0])
        for (a, _, _), (b, _, wb) in itertools.pairwise(rows):
            if a == b:
                raise UserError(f"{table.source} {wb}: sequence {sid!r} has step {b:g} twice")
        seqs.append(np.array([r[1] for r in rows], dtype=np.float32))
    names = [f"sequence {sid!r}" for sid in steps]
    lab_list = None if label_column is None else [labels[sid] for sid in steps]
    return NumericRecords(table.source, seqs, lab_list, names, list(feature_columns))


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, read without unpickling; anything else is a :class:`UserError`."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise UserError(f"{path}: cannot read it: {e.strerror or e}") from e
    if magic == b"\x93NUMPY":
        raise UserError(
            f"{path}: a single .npy array, not an .npz archive; save the data with "
            "numpy.savez(path, X=..., y=...)"
        )
    if not magic.startswith(b"PK"):
        raise UserError(f"{path}: not an .npz archive (it is no zip file)")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:  # we close f
            if not isinstance(z, np.lib.npyio.NpzFile):  # pragma: no cover (checked above)
                raise UserError(f"{path}: not an .npz archive")
            return {k: z[k] for k in z.files}
    except UserError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise UserError(
                f"{path}: cannot read without unpickling (object arrays are refused): {e}"
            ) from e
        raise UserError(f"{path}: not a readable .npz file (damaged?): {e}") from e
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,  # a zip compression numpy cannot read
        RuntimeError,  # an entry flagged as encrypted
    ) as e:
        raise UserError(f"{path}: not a readable .npz file (truncated or damaged?): {e}") from e


def check_npz_targets(y: np.ndarray, source: str) -> None:
    """Refuse NaN or infinite targets (a NaN label would become a class named ``"nan"``).

    Raises:
        UserError: naming ``source`` and the index of the first such target.

    >>> check_npz_targets(np.array([0.0, 1.0, np.nan]), "d.npz")
    Traceback (most recent call last):
    ...
    rnnkit.errors.UserError: d.npz: y[2] is nan; targets must be finite numbers or labels
    """
    if np.issubdtype(y.dtype, np.complexfloating):
        raise UserError(f"{source}: y is complex ({y.dtype}); targets must be real numbers")
    if np.issubdtype(y.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            k = int(bad[0])
            raise UserError(f"{source}: y[{k}] is {y[k]}; targets must be finite numbers or labels")


def read_npz(path: str | Path, require_y: bool = True) -> NumericRecords:
    """Sequences from an ``.npz`` with ``X`` padded, optional ``lengths`` and ``y``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    arrays = _npz_arrays(path)
    if "X" not in arrays:
        raise UserError(f"{path}: no array 'X' (arrays: {', '.join(arrays) or 'none'})")
    X = arrays["X"]
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3 or not (
        np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)
    ):
        raise UserError(
            f"{path}: X must be numeric (N, T, F) or (N, T), got {X.dtype} of shape {X.shape}"
        )
    N, T, F = X.shape
    if N == 0:
        raise UserError(f"{path}: X holds no sequences")
    if F == 0:
        raise UserError(f"{path}: X has no features (shape {X.shape})")
    lengths = arrays.get("lengths")
    if lengths is None:
        lengths = np.full(N, T, dtype=np.int64)
    elif lengths.shape != (N,) or not np.issubdtype(lengths.dtype, np.integer):
        raise UserError(
            f"{path}: lengths must be {N} integers, got {lengths.dtype} of shape {lengths.shape}"
        )
    if (lengths < 0).any() or (lengths > T).any():
        k = int(np.flatnonzero((lengths < 0) | (lengths > T))[0])
        raise UserError(f"{path}: lengths[{k}] = {int(lengths[k])} is outside [1, {T}]")
    if (lengths == 0).any():
        k = int(np.flatnonzero(lengths == 0)[0])
        raise UserError(f"{path}: sequence {k} is empty (lengths[{k}] = 0)")
    valid = np.arange(T)[None, :] < lengths[:, None]  # (N, T)
    with np.errstate(over="ignore", invalid="ignore"):
        X32 = X.astype(np.float32)  # (N, T, F); values beyond float32's range become inf
    finite = np.isfinite(X32)
    bad = ~finite.all(axis=2) & valid
    if bad.any():
        n, t = (int(v) for v in np.argwhere(bad)[0])
        f = int(np.flatnonzero(~finite[n, t])[0])
        raise UserError(
            f"{path}: X[{n}, {t}, {f}] is {X[n, t, f]} (sequence {n}, step {t}); "
            "values must be finite (and within float32's range)"
        )
    y = arrays.get("y")
    labels = None
    if y is None:
        if require_y:
            raise UserError(f"{path}: no array 'y' (arrays: {', '.join(arrays)})")
    else:
        if y.shape[:1] != (N,) or y.ndim != 1:
            raise UserError(f"{path}: y must have shape ({N},) like X's first axis, got {y.shape}")
        check_npz_targets(y, str(path))
        labels = y.tolist()
    seqs = [X32[n, : int(lengths[n])].copy() for n in range(N)]
    where = [f"sequence {n}" for n in range(N)]
    return NumericRecords(str(path), seqs, labels, where, [f"x{j}" for j in range(F)])
