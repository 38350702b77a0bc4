"""Pair files, built-in pair sets, vocabularies and batches for translation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import torch

from rnnkit.data.pairs import (
    PairOptions,
    Pairs,
    PairSet,
    build_pair_vocab,
    filter_length,
    read_pairs,
)
from rnnkit.data.pairs_builtin import (
    DATE_FORMATS,
    HELD_OUT_FORMATS,
    builtin_pairs,
    format_date,
    number_to_words,
)
from rnnkit.errors import UserError
from rnnkit.tasks.translate_metrics import number_value


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_tatoeba_tsv_with_attribution_nfc_lower_and_reverse(tmp_path: Path) -> None:
    text = "Go.\tVa !\tCC-BY 2.0 (France) #2877272\n\nCafe\u0301?\tUn CAFÉ ?\tx\n"
    p = write(tmp_path, "fra.txt", text)
    pairs = read_pairs(p)
    assert pairs.sources == ["Go.", "Caf\u00e9?"] and pairs.targets == ["Va !", "Un CAFÉ ?"]
    assert pairs.origins == ["fra.txt line 1", "fra.txt line 3"]
    low = read_pairs(p, PairOptions(lower=True, reverse=True))
    assert low.sources == ["va !", "un café ?"] and low.targets == ["go.", "caf\u00e9?"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.tsv", "hello\tbonjour\nonly one column\n", r"a\.tsv line 2: one column"),
        ("b.tsv", "hello\t  \n", r"b\.tsv line 1: empty target"),
        ("c.tsv", "\n\n", r"c\.tsv: no sentence pairs"),
        ("d.csv", "en,fr\nhi,salut\n", r"d\.csv: no column 'source' \(columns: en, fr\)"),
        ("e.jsonl", '{"source": "a", "target": "b"}\n{oops\n', r"e\.jsonl line 2: not JSON"),
        ("f.jsonl", '{"source": "a"}\n', r"f\.jsonl line 1: expected an object"),
    ],
)
def test_bad_pair_files_name_file_and_line(tmp_path: Path, name: str, text: str, message: str) -> None:  # fmt: skip
    with pytest.raises(UserError, match=message):
        read_pairs(write(tmp_path, name, text))


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        read_pairs(tmp_path / "nope.tsv")


def test_csv_and_jsonl_with_named_columns(tmp_path: Path) -> None:
    c = write(tmp_path, "p.csv", 'en,fr\n"Hi, you",Salut\nNo,Non\n')
    pairs = read_pairs(c, PairOptions(source_column="en", target_column="fr"))
    assert pairs.sources == ["Hi, you", "No"] and pairs.origins[0] == "p.csv line 2"
    rows = [{"en": "Yes", "fr": "Oui"}, {"en": "No", "fr": "Non"}]
    j = write(tmp_path, "p.jsonl", "\n".join(json.dumps(r) for r in rows))
    assert read_pairs(j, PairOptions(source_column="en", target_column="fr")).targets == [
        "Oui",
        "Non",
    ]


def test_length_filter_counts_what_it_drops() -> None:
    pairs = Pairs(["a b c", "a", "a b"], ["x", "x y z w", "y"], ["1", "2", "3"])
    kept, dropped = filter_length(pairs, "word", 2)
    assert kept.sources == ["a b"] and dropped == 2
    assert filter_length(pairs, "word", 0) == (pairs, 0)


def test_vocab_specials_and_batches_padded_with_pad() -> None:
    pairs = Pairs(["ab", "abc"], ["x", "xyz"], ["1", "2"])
    sv, tv = build_pair_vocab(pairs.sources, "char"), build_pair_vocab(pairs.targets, "char")
    assert sv.symbols[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    ps = PairSet(pairs, sv, tv)
    b = ps.batch([0, 1])
    pad, bos, eos = 0, 2, 3
    assert b.src_lengths.tolist() == [2, 3] and b.src[0, 2].item() == pad
    assert b.tgt_lengths.tolist() == [2, 4]
    assert b.tgt_in[:, 0].tolist() == [bos, bos] and b.tgt_in[0, 2:].tolist() == [pad, pad]
    assert b.tgt_out[0].tolist() == [tv.index["x"], eos, pad, pad]
    assert torch.equal(b.tgt_in[1, 1:], b.tgt_out[1, :-1])
    unk = PairSet(Pairs(["abq"], ["x"], ["1"]), sv, tv)
    assert unk.src_unknown == 1


def test_word_symbols_keep_hyphenated_words_whole() -> None:
    words = ["ninety-one thousand two", "Well-known, isn't it?"]
    v = build_pair_vocab(words, "word")
    assert "ninety-one" in v and "Well-known" in v
    ps = PairSet(Pairs(words, words, ["1", "2"]), v, v)
    assert [v.decode(ids) for ids in ps.tgt_ids] == words


def test_dates_formats_and_held_out_split() -> None:
    d = dt.date(1979, 5, 3)
    assert format_date(d, "D, M do yyyy") == "Thursday, May 3rd 1979"
    assert format_date(d, "M d, 'yy") == "May 3, '79"
    assert format_date(d, "mm/dd/yyyy") == "05/03/1979"
    assert len(DATE_FORMATS) - len(HELD_OUT_FORMATS) >= 20
    data = builtin_pairs("dates", seed=0, train_size=2000)
    train_dates = set(data.train.targets)
    for split in ("test", "test-heldout"):
        assert not train_dates & set(data.tests[split].targets)  # unseen dates
    held = {format_date(dt.date.fromisoformat(t), f) for t in data.train.targets[:200]
            for f in HELD_OUT_FORMATS}  # fmt: skip
    assert not held & set(data.train.sources)  # the held-out formats never appear in training
    for s, t in zip(data.train.sources[:50], data.train.targets[:50], strict=True):
        assert dt.date.fromisoformat(t).year in range(1950, 2050) and s


def test_generation_is_seeded() -> None:
    a, b = builtin_pairs("reverse", 3, 100), builtin_pairs("reverse", 3, 100)
    assert a.train.sources == b.train.sources
    assert builtin_pairs("reverse", 4, 100).train.sources != a.train.sources


def test_numbers_words_round_trip_and_split() -> None:
    for n in [0, 7, 13, 20, 42, 100, 115, 1000, 1001, 90_210, 1_000_000, 999_999_999, 10**9]:
        assert number_value(number_to_words(n)) == n
    assert number_to_words(2_000_017) == "two million seventeen"
    data = builtin_pairs("numbers", seed=0, train_size=3000)
    assert not set(data.train.sources) & set(data.tests["test"].sources)
    assert all(number_to_words(int(s)) == t for s, t in zip(data.train.sources, data.train.targets, strict=True))  # fmt: skip


def test_reverse_lengths_as_joey() -> None:
    data = builtin_pairs("reverse", 0, 2000)
    lens = [len(s.split()) for s in data.train.sources]
    test_lens = [len(s.split()) for s in data.tests["test"].sources]
    assert max(lens) == 25 and min(lens) == 1 and max(test_lens) == 30
    s, t = data.train.sources[0], data.train.targets[0]
    assert t.split() == s.split()[::-1]
    assert all(0 <= int(v) < 50 for v in s.split())


def test_unknown_builtin() -> None:
    with pytest.raises(UserError, match="unknown built-in pair set 'dats'"):
        builtin_pairs("dats")
