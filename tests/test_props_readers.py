"""Property tests over every reader of user files (issue 14): whatever a file holds, reading it
either succeeds or raises rnnkit's :class:`~rnnkit.errors.UserError` with a message that names the
file, never another exception.

Readers covered: text corpora, CSV/TSV/JSONL tables (and their text records), long-format CSV,
``.npz`` (generated arrays of every dtype and shape, and damaged archives), CoNLL files, and the
JSON files of a run directory (``config.json``, ``checkpoint.json``, ``metrics.jsonl``, a
checkpoint's ``train_state.json`` / ``optimizer.json``, and its safetensors files).
"""

from __future__ import annotations

import io
import json
import shutil
import string
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from rnnkit.data.conll import read_conll
from rnnkit.data.tables import read_long_csv, read_npz, read_table, text_records
from rnnkit.data.text import read_corpus
from rnnkit.errors import UserError
from rnnkit.runs import load_json, read_jsonl
from rnnkit.train.checkpoint import (
    TrainState,
    load_checked,
    load_checkpoint,
    load_run,
    read_config,
    save_checkpoint,
)

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory that lives for one test (all its examples): each example rewrites its file."""
    d = Path(tempfile.mkdtemp(prefix="rnnkit-props-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def loads_or_names(path: Path, read: Callable[[Path], Any]) -> None:
    """``read(path)`` returns, or raises a UserError naming ``path``; anything else fails."""
    try:
        read(path)
    except UserError as e:
        assert str(path) in str(e), f"the message does not name {path}: {e}"
        assert "\n" not in str(e).strip(), f"not one line: {e!r}"


# ----- building blocks ---------------------------------------------------------------------------

CELLS = st.sampled_from(
    ["", " ", "a", "pos", "neg", "0", "1", "2.5", "-1e3", "nan", "inf", "-inf", "1e999", "x y",
     '"', '""', "a,b", "\t", "é", "\x00", "\ufeff", "id", "step", "label", "text", "007"]
)  # fmt: skip
COLUMNS = st.sampled_from(["text", "label", "id", "step", "x", "y", "", "text ", "x,y"])
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def table_text(draw: st.DrawFn, sep: str = ",") -> str:
    """A CSV/TSV: a header, then rows of cells (sometimes ragged), quoted or not."""
    header = draw(st.lists(COLUMNS, min_size=1, max_size=5))
    n = len(header)
    rows = draw(
        st.lists(
            st.lists(CELLS, min_size=max(0, n - 1), max_size=n + 1 if draw(st.booleans()) else n),
            max_size=6,
        )
    )
    buf = io.StringIO()
    quote = draw(st.booleans())
    for row in [header, *rows]:
        cells = [f'"{c}"' if quote else c for c in row]
        buf.write(sep.join(cells) + draw(st.sampled_from(["\n", "\r\n", "\r"])))
    return buf.getvalue()


@st.composite
def jsonl_text(draw: st.DrawFn) -> str:
    lines = draw(
        st.lists(
            st.dictionaries(COLUMNS, JSON_SCALARS | CELLS, max_size=4).map(json.dumps)
            | JSON.map(json.dumps)
            | st.text(max_size=10),
            max_size=6,
        )
    )
    return "\n".join(lines)


def raw_or(text_strategy: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """The file's bytes: the structured text (UTF-8 or Latin-1), mangled text, or random bytes."""
    return st.one_of(
        text_strategy.map(lambda s: s.encode("utf-8")),
        text_strategy.map(lambda s: s.encode("latin-1", "replace")),
        st.tuples(text_strategy, st.binary(max_size=8), st.integers(0, 200)).map(
            lambda t: t[0].encode("utf-8")[: t[2]] + t[1] + t[0].encode("utf-8")[t[2] :]
        ),
        st.binary(max_size=200),
    )


# ----- text corpora ------------------------------------------------------------------------------


@SETTINGS
@given(
    raw=raw_or(st.text(max_size=100)),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "ascii"]),
)
def test_text_corpus(workdir: Path, raw: bytes, encoding: str) -> None:
    path = workdir / "corpus.txt"
    path.write_bytes(raw)
    loads_or_names(path, lambda p: read_corpus([p], encoding))
    loads_or_names(workdir, lambda p: read_corpus([p], encoding))  # the directory holding it


# ----- tables ------------------------------------------------------------------------------------


@SETTINGS
@given(
    raw=raw_or(table_text(",") | table_text("\t") | jsonl_text()),
    suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]),
    text_col=COLUMNS,
    label_col=st.none() | COLUMNS,
)
def test_text_table(
    workdir: Path, raw: bytes, suffix: str, text_col: str, label_col: str | None
) -> None:
    path = workdir / f"data{suffix}"
    path.write_bytes(raw)
    loads_or_names(path, lambda p: text_records(read_table(p), text_col, label_col))


@st.composite
def long_csv(draw: st.DrawFn) -> str:
    """id,step,features...,label rows; ids, steps and values drawn from small pools."""
    features = draw(st.lists(st.sampled_from(["x", "y", "z"]), min_size=0, max_size=3, unique=True))
    header = ["id", "step", *features, "label"]
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    value = st.sampled_from(["0", "1", "2", "1.5", "-3", "nan", "", "a", "inf", "1e40"])
    rows = draw(st.lists(st.lists(value, min_size=len(header), max_size=len(header)), max_size=8))
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


@SETTINGS
@given(
    raw=raw_or(long_csv() | table_text(",")),
    label=st.sampled_from(["label", None, "x"]),
)
def test_long_csv(workdir: Path, raw: bytes, label: str | None) -> None:
    path = workdir / "long.csv"
    path.write_bytes(raw)
    loads_or_names(path, lambda p: read_long_csv(p, label_column=label))


# ----- npz ---------------------------------------------------------------------------------------

DTYPES = st.sampled_from(
    ["float32", "float64", "float16", "int8", "int64", "uint8", "uint64", "bool", "complex64", "<U3", "S2"]
)  # fmt: skip


@st.composite
def array(draw: st.DrawFn, max_dims: int = 4) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=max_dims)))
    dtype = np.dtype(draw(DTYPES))
    n = int(np.prod(shape))
    if dtype.kind in "US":
        values = draw(st.lists(st.sampled_from(["a", "b", "nan", "1"]), min_size=n, max_size=n))
        return np.array(values, dtype=dtype).reshape(shape)
    pool = [0, 1, 2, 3, -1, 7, 1e300, float("nan"), float("inf"), 0.5]
    values = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    with np.errstate(all="ignore"):
        return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)


@st.composite
def npz_bytes(draw: st.DrawFn) -> bytes:
    arrays: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(["X", "y", "lengths", "other"]), unique=True)):
        arrays[name] = draw(array())
    if draw(st.booleans()) and "X" in arrays:  # lengths that fit X's first two axes, sometimes
        X = arrays["X"]
        if X.ndim >= 2:
            arrays["lengths"] = np.array(
                draw(
                    st.lists(
                        st.integers(-1, X.shape[1] + 1), min_size=X.shape[0], max_size=X.shape[0]
                    )
                ),
                dtype=np.int64,
            )
    if draw(st.booleans()):
        arrays["obj"] = np.array([1, "a"], dtype=object)  # needs pickle: must be refused
    buf = io.BytesIO()
    (np.savez_compressed if draw(st.booleans()) else np.savez)(buf, **arrays)
    data = bytearray(buf.getvalue())
    how = draw(st.sampled_from(["whole", "whole", "truncate", "flip"]))
    if how == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "flip" and data:
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return bytes(data)


@SETTINGS
@given(raw=npz_bytes() | st.binary(max_size=100), require_y=st.booleans())
def test_npz(workdir: Path, raw: bytes, require_y: bool) -> None:
    path = workdir / "data.npz"
    path.write_bytes(raw)
    loads_or_names(path, lambda p: read_npz(p, require_y=require_y))


@SETTINGS
@given(X=array(), y=array(max_dims=2))
def test_npz_of_any_arrays(workdir: Path, X: np.ndarray, y: np.ndarray) -> None:
    """Well-formed archives of any dtype and shape: when they load, what loads is finite."""
    path = workdir / "data.npz"
    np.savez(path, X=X, y=y)
    try:
        rec = read_npz(path)
    except UserError as e:
        assert str(path) in str(e)
        return
    assert all(s.dtype == np.float32 and np.isfinite(s).all() and len(s) for s in rec.seqs)
    assert rec.labels is not None and len(rec.labels) == len(rec.seqs)
    assert all(not (isinstance(v, float) and not np.isfinite(v)) for v in rec.labels)


# ----- CoNLL -------------------------------------------------------------------------------------


@st.composite
def conll_text(draw: st.DrawFn) -> str:
    token = st.sampled_from(["EU", "rejects", "-DOCSTART-", "B-ORG", "O", "I-PER", "é", "x"])
    space = st.sampled_from([" ", "\t", "  ", "\u00a0", "\x0c", " \r"])
    lines = draw(
        st.lists(
            st.lists(token, max_size=4).flatmap(lambda toks: space.map(lambda s: s.join(toks))),
            max_size=10,
        )
    )
    return "\n".join(lines)


@SETTINGS
@given(raw=raw_or(conll_text()), require_tags=st.booleans())
def test_conll(workdir: Path, raw: bytes, require_tags: bool) -> None:
    path = workdir / "data.conll"
    path.write_bytes(raw)
    loads_or_names(path, lambda p: read_conll(p, require_tags=require_tags))


# ----- run directories ---------------------------------------------------------------------------


def json_bytes() -> st.SearchStrategy[bytes]:
    as_text = JSON.map(lambda v: json.dumps(v, allow_nan=True))
    good = st.dictionaries(
        st.sampled_from(["task", "dir", "step", "data", "head", "x"]),
        JSON | st.sampled_from(["text", "classify", "checkpoint-000001", "../x", "/"]),
        max_size=4,
    ).map(json.dumps)
    return raw_or(as_text | good | st.text(alphabet=string.printable, max_size=30))


@SETTINGS
@given(raw=json_bytes(), task=st.sampled_from([None, "text", "classify"]))
def test_config_json(workdir: Path, raw: bytes, task: str | None) -> None:
    path = workdir / "config.json"
    path.write_bytes(raw)
    loads_or_names(path, load_json)
    try:
        read_config(workdir, task)
        load_run(workdir, task or "text")
    except UserError as e:
        assert str(workdir) in str(e), str(e)


@SETTINGS
@given(raw=raw_or(jsonl_text()))
def test_metrics_jsonl(workdir: Path, raw: bytes) -> None:
    path = workdir / "metrics.jsonl"
    path.write_bytes(raw)
    try:
        rows = read_jsonl(path)
    except UserError as e:
        assert str(path) in str(e), str(e)
        return
    assert all(isinstance(r, dict) for r in rows)


@pytest.fixture(scope="module")
def checkpoint_dir() -> Iterator[Path]:
    """A real checkpoint, copied for each example and then damaged."""
    d = Path(tempfile.mkdtemp(prefix="rnnkit-props-ckpt-"))
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    save_checkpoint(
        d,
        model=model,
        optimizer=opt,
        state=TrainState(step=3),
        task_state={"pos": 1, "carry": torch.zeros(2)},
        best_weights=None,
    )
    yield d
    shutil.rmtree(d, ignore_errors=True)


CHECKPOINT_FILES = [
    "checkpoint.json",
    "checkpoint-000003/train_state.json",
    "checkpoint-000003/optimizer.json",
    "checkpoint-000003/train_state.safetensors",
    "checkpoint-000003/optimizer.safetensors",
    "checkpoint-000003/model.safetensors",
]


@st.composite
def damaged(draw: st.DrawFn, original: bytes) -> bytes:
    how = draw(st.sampled_from(["json", "truncate", "flip"]))
    if how == "json":
        return draw(json_bytes())
    data = bytearray(original)
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, max(0, len(data) - 1)))])
    for _ in range(draw(st.integers(1, 3))):
        data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return bytes(data)


@SETTINGS
@given(data=st.data(), which=st.sampled_from(CHECKPOINT_FILES))
def test_damaged_checkpoint(
    workdir: Path, checkpoint_dir: Path, data: st.DataObject, which: str
) -> None:
    run = workdir / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(checkpoint_dir, run)
    target = run / which
    target.write_bytes(data.draw(damaged(target.read_bytes())))
    model = nn.Linear(3, 2)
    try:
        got = load_checkpoint(run, model, torch.optim.Adam(model.parameters()))
    except UserError as e:
        assert str(run) in str(e), str(e)
    else:  # what loads is usable: the counters have their types
        assert type(got.state.step) is int and isinstance(got.state.elapsed, (int, float))
    if which.endswith(".safetensors"):
        loads_or_names(target, load_checked)
