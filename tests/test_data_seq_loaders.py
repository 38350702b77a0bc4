"""Sequence loaders on small files: what they read, and the errors that name the bad line or row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.batching import (
    IGNORE_INDEX,
    LabelMap,
    PaddedSet,
    pad_sequences,
    split_indices,
)
from rnnkit.data.conll import read_conll
from rnnkit.data.tables import read_long_csv, read_npz, read_table, text_records
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.errors import UserError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_and_jsonl_text_tables(tmp_path: Path) -> None:
    csv = _write(tmp_path / "a.csv", 'text,label\n"hello, world",pos\n"two\nlines",neg\n')
    rec = text_records(read_table(csv), "text", "label")
    assert rec.texts == ["hello, world", "two\nlines"]
    assert rec.labels == ["pos", "neg"]
    assert rec.where == ["line 2", "line 4"]  # a quoted newline: the row ends on line 4
    jl = _write(tmp_path / "a.jsonl", '{"t": "x y", "y": 1}\n\n{"t": "z", "y": 0}\n')
    rec = text_records(read_table(jl), "t", "y")
    assert rec.texts == ["x y", "z"] and rec.labels == [1, 0] and rec.where == ["line 1", "line 3"]


def test_missing_column_lists_the_columns(tmp_path: Path) -> None:
    csv = _write(tmp_path / "a.csv", "review,sentiment\ngood,pos\n")
    with pytest.raises(UserError, match=r"no column 'label' \(columns: review, sentiment\)"):
        text_records(read_table(csv), "review", "label")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("text,label\na,b,c\n", r"line 2: 3 fields, expected 2"),
        ("text,label\n,pos\n", r"line 2: 'text' is empty"),
        ("", "empty file"),
    ],
)
def test_bad_text_tables(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(UserError, match=match):
        text_records(read_table(_write(tmp_path / "a.csv", text)), "text", "label")


def test_bad_jsonl_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="line 2: not valid JSON"):
        read_table(_write(tmp_path / "a.jsonl", '{"text": "a"}\n{oops\n'))


def test_long_csv_groups_sorts_and_checks(tmp_path: Path) -> None:
    csv = _write(tmp_path / "l.csv", "id,step,x,y,label\ns1,1,1.0,2,a\ns2,0,5,6,b\ns1,0,3,4,a\n")
    rec = read_long_csv(csv)
    assert rec.feature_names == ["x", "y"] and rec.labels == ["a", "b"]
    assert rec.where == ["sequence 's1'", "sequence 's2'"]
    np.testing.assert_array_equal(rec.seqs[0], [[3, 4], [1, 2]])  # sorted by step
    assert rec.seqs[1].shape == (1, 2)


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("s1,0,nan,a\n", r"line 2: feature 'x' is nan"),
        ("s1,0,inf,a\n", r"line 2: feature 'x' is inf"),
        ("s1,0,,a\n", r"line 2: feature 'x' is empty"),
        ("s1,0,1\n", r"line 2: 3 fields, expected 4"),
        ("s1,0,1,a\ns1,1,2,b\n", r"line 3: sequence 's1' changes its 'label'"),
        ("s1,0,1,a\ns1,0,2,a\n", r"sequence 's1' has step 0 twice"),
        ("s1,0,abc,a\n", r"line 2: feature 'x' is not a number"),
    ],
)
def test_bad_long_csv(tmp_path: Path, rows: str, match: str) -> None:
    with pytest.raises(UserError, match=match):
        read_long_csv(_write(tmp_path / "l.csv", "id,step,x,label\n" + rows))


def test_npz(tmp_path: Path) -> None:
    X = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    X[1, 3] = np.nan  # in the padding: fine
    np.savez(tmp_path / "d.npz", X=X, lengths=np.array([4, 3, 1]), y=np.array([0, 1, 1]))
    rec = read_npz(tmp_path / "d.npz")
    assert [s.shape for s in rec.seqs] == [(4, 2), (3, 2), (1, 2)]
    assert rec.labels == [0, 1, 1]
    np.savez(tmp_path / "u.npz", X=np.nan_to_num(X[:, :, 0]))  # (N, T): one feature; no y
    rec = read_npz(tmp_path / "u.npz", require_y=False)
    assert rec.labels is None and rec.seqs[0].shape == (4, 1)


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        (
            {"X": np.zeros((2, 3, 1)), "lengths": np.array([3, 0]), "y": np.zeros(2)},
            r"sequence 1 is empty",
        ),
        (
            {"X": np.array([[[0.0], [np.inf]]]), "y": np.zeros(1)},
            r"X\[0, 1, 0\] is inf \(sequence 0, step 1\)",
        ),
        ({"X": np.zeros((2, 3, 1)), "y": np.zeros(3)}, r"y must have shape \(2,\)"),
        ({"features": np.zeros((2, 3))}, r"no array 'X' \(arrays: features\)"),
        (
            {"X": np.zeros((2, 3, 1)), "lengths": np.array([3, 4]), "y": np.zeros(2)},
            r"lengths\[1\] = 4",
        ),
        ({"X": np.zeros((2, 3, 1))}, r"no array 'y'"),
    ],
)
def test_bad_npz(tmp_path: Path, arrays: dict[str, np.ndarray], match: str) -> None:
    np.savez(tmp_path / "d.npz", **arrays)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=match):
        read_npz(tmp_path / "d.npz")


def test_npz_object_arrays_are_refused(tmp_path: Path) -> None:
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((2, 1)), np.zeros((3, 1))
    np.savez(tmp_path / "d.npz", X=ragged, y=np.zeros(2))
    with pytest.raises(UserError, match=r"unpickling"):
        read_npz(tmp_path / "d.npz")


def test_conll(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.conll",
        "-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\nPeter NNP B-NP B-PER\n",
    )
    rec = read_conll(path)
    assert rec.tokens == [["EU", "rejects"], ["Peter"]]
    assert rec.tags == [["B-ORG", "O"], ["B-PER"]]
    assert rec.where == ["line 3", "line 7"]
    tokens_only = read_conll(_write(tmp_path / "u.conll", "a\nb\n\nc\n"), require_tags=False)
    assert tokens_only.tags is None and tokens_only.tokens == [["a", "b"], ["c"]]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a DET\nb NOUN extra\n", r"line 2: 3 fields, expected 2 \(token ... tag\) as on line 1"),
        ("a\nb\n", r"line 1: 1 field, expected a token and a tag"),
        ("\n\n", "no sequences"),
    ],
)
def test_bad_conll(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(UserError, match=match):
        read_conll(_write(tmp_path / "t.conll", text))


def test_vocab_labels_padding_splits() -> None:
    docs = [["b", "a", "a"], ["c", "b", "a"]]
    v = Vocabulary.from_tokens(
        (t for d in docs for t in d), "word", min_count=2, specials=(PAD, UNK)
    )
    assert v.symbols == ["<pad>", "<unk>", "a", "b"]
    assert Vocabulary.from_json(json.loads(json.dumps(v.to_json()))).symbols == v.symbols
    old = Vocabulary.from_json(["a", "b"])  # a format-1 sequence run's vocab.json
    assert old.symbols == v.symbols and old.pad_index == 0 and old.unk_index == 1
    m = LabelMap.build(["10", "2", "x", "2"], "f.csv")
    assert m.names == ["2", "10", "x"]
    with pytest.raises(UserError, match=r"f.csv: the labels have only one class \('a'\)"):
        LabelMap.build(["a", "a"], "f.csv")
    with pytest.raises(UserError, match=r"g.csv line 3: label 'z' was not seen in training"):
        m.encode(["x", "z"], "g.csv", ["line 2", "line 3"])
    assert m.encode(["x", "z"], "g.csv", policy="skip").tolist() == [2, -1]
    x, lengths = pad_sequences([np.ones((2, 3)), np.ones((4, 3))], np.float32)
    data = PaddedSet(
        x, lengths, np.array([[1, 2, IGNORE_INDEX, IGNORE_INDEX], [1, 1, 1, 1]]), ["a", "b"]
    )
    b = data.batch([0])
    assert (
        b.x.shape == (1, 2, 3) and b.y is not None and b.y.tolist() == [[1, 2]]
    )  # trimmed to its longest
    parts = split_indices(10, [0.7, 0.3], seed=3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(10)) and len(parts[1]) == 3
