"""What DATA means for a sequence task, and how it becomes padded tensors.

DATA is a file — a text table (CSV/TSV/JSONL), a long-format CSV, an ``.npz``, a CoNLL file — or
the name of a built-in set: ``adding``, ``copy``, ``dinner`` (generated on the fly) and
``digits-rows``, ``digits-pixels`` (scikit-learn's digits). :class:`DataConfig` says how to read
it and is stored in the run, with the fitted :class:`Encoders` (vocabulary, label names, feature
and target scalers), so ``predict`` and ``eval`` read new data exactly as training did.

Everything is read and checked before anything is written: a bad file never leaves a half-made run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.batching import IGNORE_INDEX, LabelMap, PaddedSet, pad_sequences, split_indices
from ..data.conll import read_conll
from ..data.synthetic import SYNTHETIC
from ..data.tables import (
    JSONL_SUFFIXES,
    NumericRecords,
    label_text,
    label_value,
    long_records,
    read_npz,
    read_table,
    text_records,
)
from ..data.vocab import PAD, UNK, Vocabulary, tokenize
from ..errors import UserError
from .builtin_sets import BUILTINS, builtin_encoders, builtin_sets
from .config import DataConfig, Encoders, Loaded, Splits

__all__ = [
    "BUILTINS",
    "DataConfig",
    "Encoders",
    "Loaded",
    "Splits",
    "load_for_eval",
    "load_training",
]


# ----- resolving DATA ---------------------------------------------------------------------------


def resolve(data: str, cfg: DataConfig) -> DataConfig:
    """Decide what ``data`` is: a built-in name or a file of some format; check the task can use it."""
    path = Path(data)
    if not path.exists() and data in BUILTINS:
        kinds = SYNTHETIC[data].kinds if data in SYNTHETIC else ("classify",)
        if cfg.task not in kinds:
            fix = " or ".join(f"rnnkit train {k} {data}" for k in kinds)
            raise UserError(f"{data} is a {'/'.join(kinds)} task, not {cfg.task}: use {fix}")
        return DataConfig(**{**cfg.to_json(), "format": "builtin", "builtin": data})
    if not path.exists():
        raise UserError(f"{data}: no such file, and no built-in dataset of that name "
                        f"(built-ins: {', '.join(BUILTINS)})")  # fmt: skip
    if path.is_dir():
        raise UserError(f"{data}: is a directory, expected a data file")
    fmt = cfg.format
    if fmt == "auto":
        if cfg.task == "tag":
            fmt = "conll"
        elif path.suffix.lower() == ".npz":
            fmt = "npz"
        else:
            fmt = "table"  # text or long CSV, decided from the columns
    if cfg.task == "tag" and fmt != "conll":
        raise UserError(
            f"{data}: tagging reads CoNLL files (token and tag per line), not --format {fmt}"
        )
    if cfg.task != "tag" and fmt == "conll":
        raise UserError(f"{data}: --format conll is for tagging: rnnkit train tag {data}")
    return DataConfig(**{**cfg.to_json(), "format": fmt, "builtin": None})


def _table_format(table_columns: list[str], cfg: DataConfig, source: str) -> str:
    if cfg.text_column in table_columns:
        return "text"
    if cfg.id_column in table_columns and cfg.step_column in table_columns:
        return "long-csv"
    have = ", ".join(table_columns) or "none"
    raise UserError(
        f"{source}: no column {cfg.text_column!r} (columns: {have}); choose the text with "
        f"--text-column, or for numeric sequences give --format long-csv with --id-column/--step-column"
    )


# ----- records -> padded sets -------------------------------------------------------------------


@dataclass
class _Records:
    """Loaded rows before encoding: token lists or feature arrays, with raw labels or tags."""

    source: str
    where: list[str]
    tokens: list[list[str]] | None = None
    seqs: list[np.ndarray] | None = None
    labels: list[Any] | None = None  # one per row (classify, regress)
    tags: list[list[str]] | None = None  # one per step (tag)
    feature_names: list[str] | None = None


def _read(data: str, cfg: DataConfig, labelled: bool) -> _Records:
    """Read a file as ``cfg`` says; ``labelled=False`` accepts files without labels (predict)."""
    fmt = cfg.format
    if fmt == "conll":
        r = read_conll(data, require_tags=labelled)
        tokens = [[t.lower() for t in s] if cfg.lowercase else s for s in r.tokens]
        return _Records(r.source, r.where, tokens=tokens, tags=r.tags)
    if fmt == "npz":
        n = read_npz(data, require_y=labelled)
        return _Records(
            n.source, n.where, seqs=n.seqs, labels=n.labels, feature_names=n.feature_names
        )
    table = read_table(data)
    if fmt in ("table", "auto"):
        fmt = cfg.format = _table_format(table.columns, cfg, table.source)
    label_col: str | None = cfg.label_column
    if not labelled and cfg.label_column not in table.columns:
        label_col = None
    if fmt == "long-csv":
        nr: NumericRecords = long_records(
            table, cfg.id_column, cfg.step_column, label_col, cfg.feature_columns
        )
        return _Records(
            nr.source, nr.where, seqs=nr.seqs, labels=nr.labels, feature_names=nr.feature_names
        )
    if fmt != "text":
        raise UserError(f"{data}: unknown --format {fmt!r}")
    tr = text_records(table, cfg.text_column, label_col)
    tokens = [tokenize(t, cfg.level, cfg.lowercase) for t in tr.texts]
    for k, toks in enumerate(tokens):
        if not toks:
            raise UserError(
                f"{tr.source} {tr.where[k]}: {cfg.text_column!r} has no tokens at --level {cfg.level}"
            )
    return _Records(tr.source, tr.where, tokens=tokens, labels=tr.labels)


def _truncate(seqs: list[Any], max_length: int | None) -> list[Any]:
    return seqs if not max_length else [s[:max_length] for s in seqs]


def _inputs(rec: _Records, enc: Encoders, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Padded inputs ``(N, T)`` ids or ``(N, T, F)`` features, and lengths."""
    if rec.tokens is not None:
        if enc.vocab is None:
            raise UserError(f"{rec.source}: this model reads numeric features, the file holds text")
        ids = [np.array(enc.vocab.encode_tokens(t), dtype=np.int64)
               for t in _truncate(rec.tokens, cfg.max_length)]  # fmt: skip
        return pad_sequences(ids, np.int64)
    assert rec.seqs is not None and rec.feature_names is not None
    if enc.vocab is not None or enc.feature_names is None:
        raise UserError(f"{rec.source}: this model reads text, the file holds numeric features")
    if len(rec.feature_names) != len(enc.feature_names):
        raise UserError(
            f"{rec.source}: {len(rec.feature_names)} features ({', '.join(rec.feature_names)}), "
            f"but the model was trained on {len(enc.feature_names)} ({', '.join(enc.feature_names)})"
        )
    return pad_sequences(enc.scale(_truncate(rec.seqs, cfg.max_length)), np.float32)


def _targets(
    rec: _Records, enc: Encoders, cfg: DataConfig, T: int, policy: str
) -> tuple[np.ndarray, np.ndarray]:
    """Targets, and a keep-mask over rows (False for rows skipped by the unknown-label policy)."""
    keep = np.ones(len(rec.where), dtype=bool)
    if cfg.task == "regress":
        assert rec.labels is not None
        y = np.array(
            [label_value(v, rec.source, w) for v, w in zip(rec.labels, rec.where, strict=True)]
        )
        return y.astype(np.float32), keep
    assert enc.labels is not None
    if cfg.task == "classify":
        assert rec.labels is not None
        texts = [label_text(v) for v in rec.labels]
        ids = enc.labels.encode(texts, rec.source, rec.where, policy)  # type: ignore[arg-type]
        return ids, ids >= 0
    assert rec.tags is not None
    tags = np.full((len(rec.tags), T), IGNORE_INDEX, dtype=np.int64)
    for n, seq in enumerate(_truncate(rec.tags, cfg.max_length)):
        where = [f"{rec.where[n]} (sequence {n + 1}, token {k + 1})" for k in range(len(seq))]
        ids = enc.labels.encode(seq, rec.source, where, policy)  # type: ignore[arg-type]
        tags[n, : len(seq)] = np.where(ids >= 0, ids, IGNORE_INDEX)
    return tags, keep


def _fit(rec: _Records, cfg: DataConfig, train_idx: np.ndarray) -> Encoders:
    """Vocabulary, label names and scalers from the training rows."""
    enc = Encoders()
    if rec.tokens is not None:
        tokens = (t for i in train_idx for t in rec.tokens[i])
        level = cfg.level if cfg.format != "conll" else "word"
        enc.vocab = Vocabulary.from_tokens(
            tokens,
            level,
            cfg.max_vocab,
            cfg.min_count,
            (PAD, UNK),
        )
    else:
        assert rec.seqs is not None
        enc.feature_names = rec.feature_names
        steps = np.concatenate([rec.seqs[i] for i in train_idx])  # (sum T_i, F)
        std = steps.std(axis=0)
        enc.feature_mean = [float(v) for v in steps.mean(axis=0)]
        enc.feature_std = [float(v) if v > 1e-8 else 1.0 for v in std]
    if cfg.task == "classify":
        assert rec.labels is not None
        enc.labels = LabelMap.build(
            [label_text(v) for v in rec.labels], rec.source, cfg.label_column
        )
    elif cfg.task == "tag":
        assert rec.tags is not None
        enc.labels = LabelMap.build([t for s in rec.tags for t in s], rec.source, "tag")
    else:
        assert rec.labels is not None
        y = np.array([label_value(rec.labels[i], rec.source, rec.where[i]) for i in train_idx])
        enc.target_mean = float(y.mean())
        enc.target_std = float(y.std()) if y.std() > 1e-8 else 1.0
    return enc


def _encode(rec: _Records, enc: Encoders, cfg: DataConfig, policy: str = "error") -> Loaded:
    x, lengths = _inputs(rec, enc, cfg)
    data = PaddedSet(x, lengths, None, list(rec.where))
    has_labels = rec.labels is not None or rec.tags is not None
    if not has_labels:
        return Loaded(data, rec.tokens, has_labels=False)
    y, keep = _targets(rec, enc, cfg, x.shape[1], policy)
    data.y = y
    skipped = int((~keep).sum())
    if cfg.task == "tag" and rec.tags is not None:
        skipped = sum(len(s) for s in rec.tags) - int((y != IGNORE_INDEX).sum())
    if not keep.all():
        data = data.subset(np.flatnonzero(keep))
    return Loaded(data, rec.tokens, skipped=skipped)


# ----- public entry points ----------------------------------------------------------------------


def load_training(data: str, cfg: DataConfig, seed: int) -> tuple[Splits, Encoders, DataConfig]:
    """Read, check and encode training data; hold out ``val_fraction`` of a file for validation.

    Returns:
        the splits, the fitted encoders and the resolved config (to store in the run).
    """
    cfg = resolve(data, cfg)
    if cfg.builtin is not None:
        if cfg.builtin in SYNTHETIC:
            cfg.length = cfg.length or SYNTHETIC[cfg.builtin].default_length
            if cfg.length < (2 if cfg.builtin == "adding" else 1):
                raise UserError(f"--length must be at least 2 for {cfg.builtin}, got {cfg.length}")
        elif cfg.length is not None:
            raise UserError(
                f"--length is for the synthetic sets ({', '.join(SYNTHETIC)}), not {data}"
            )
        return builtin_sets(cfg), builtin_encoders(cfg), cfg
    if cfg.length is not None:
        raise UserError(f"--length is for the synthetic sets ({', '.join(SYNTHETIC)}), not {data}")
    rec = _read(data, cfg, labelled=True)
    N = len(rec.where)
    if N < 2:
        raise UserError(
            f"{rec.source}: {N} sequence(s); training needs at least 2 (one to validate on)"
        )
    n_val = min(max(1, round(cfg.val_fraction * N)), N - 1)
    train_idx, val_idx = split_indices(N, [1 - n_val / N, n_val / N], seed)
    enc = _fit(rec, cfg, train_idx)
    full = _encode(rec, enc, cfg).data
    return Splits(val=full.subset(val_idx), train=full.subset(train_idx)), enc, cfg


def load_for_eval(
    data: str, cfg: DataConfig, enc: Encoders, *, labelled: bool = True, policy: str = "error"
) -> Loaded:
    """Read new data as training read its data: the test split of a built-in set, or a whole file.

    Args:
        labelled: labels are required (eval); with ``False`` they are read when present (predict).
        policy: ``"error"`` or ``"skip"`` for a label never seen in training.
    """
    if not Path(data).exists() and data in BUILTINS:
        if cfg.builtin != data:
            raise UserError(
                f"{data}: this run was trained on {cfg.builtin or 'a file'}, not the built-in {data}"
            )
        test = builtin_sets(cfg).test
        assert test is not None
        return Loaded(test)
    file_cfg = resolve(data, DataConfig(**{**cfg.to_json(), "format": _file_format(cfg, data)}))
    rec = _read(data, file_cfg, labelled=labelled)
    return _encode(rec, enc, file_cfg, policy)


def _file_format(cfg: DataConfig, data: str) -> str:
    """The format to read a new file in: the training file's, or auto for a run trained on a built-in."""
    if cfg.format != "builtin":
        return cfg.format
    if cfg.task == "tag":
        raise UserError(
            f"{data}: this run was trained on {cfg.builtin}; tag files need a CoNLL-trained run"
        )
    suffix = Path(data).suffix.lower()
    return (
        "npz"
        if suffix == ".npz"
        else ("long-csv" if suffix in (".csv", ".tsv", *JSONL_SUFFIXES) else "auto")
    )
