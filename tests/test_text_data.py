"""Text data: vocabulary, tokenization, corpus reading errors, TBPTT stream batching."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.data.builtin import MODULES, builtin_corpus
from rnnkit.data.text import StreamBatches, read_corpus, read_text_file, split_stream
from rnnkit.data.vocab import UNK, Vocabulary, detokenize, tokenize
from rnnkit.errors import UserError

# ----- vocabulary ---------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["char", "word"])
def test_vocab_round_trip_through_json(tmp_path: Path, level: str) -> None:
    text = "To be, or not to be: that is the question.\nWhether 'tis nobler in the mind\n"
    v = Vocabulary.build(text, level)
    v.save(tmp_path / "vocab.json")
    w = Vocabulary.load(tmp_path / "vocab.json")
    assert w.symbols == v.symbols and w.level == level
    ids = w.encode(text)
    assert 0 not in ids  # every symbol is known
    if level == "char":
        assert w.decode(ids) == text
    else:
        assert tokenize(w.decode(ids), "word") == tokenize(text, "word")


def test_vocab_orders_by_frequency_and_puts_unk_first() -> None:
    v = Vocabulary.build("bbbaac", "char")
    assert v.symbols == [UNK, "b", "a", "c"]
    assert v.unk_index == 0 and v.index["b"] == 1


def test_unknown_symbols_map_to_unk_and_are_listed() -> None:
    v = Vocabulary.build("hello world", "char")
    assert v.encode("hex!") == [v.index["h"], v.index["e"], 0, 0]
    assert v.unknown("hex!x") == ["x", "!"]


def test_word_vocab_caps_size_and_min_count() -> None:
    text = "a a a b b c d"
    assert Vocabulary.build(text, "word", max_size=3).symbols == [UNK, "a", "b"]
    assert Vocabulary.build(text, "word", min_count=2).symbols == [UNK, "a", "b"]
    assert Vocabulary.build(text, "word", max_size=3).encode("c a") == [0, 1]


def test_word_tokens_and_detokenize() -> None:
    tokens = tokenize("Nay, don't (go)!\nAll: yes.", "word")
    assert tokens == ["Nay", ",", "don't", "(", "go", ")", "!", "\n", "All", ":", "yes", "."]
    assert detokenize(tokens) == "Nay, don't (go)!\nAll: yes."


@pytest.mark.parametrize(
    "content",
    [
        '{"level": "char"}',
        '{"level": "byte", "symbols": ["<unk>"]}',
        '{"level": "char", "symbols": ["a"]}',
        "[1, 2",
    ],
)
def test_malformed_vocab_file_is_a_user_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "vocab.json"
    path.write_text(content)
    with pytest.raises(UserError, match=r"vocab\.json"):
        Vocabulary.load(path)


# ----- corpus reading -----------------------------------------------------------------------------


def test_read_corpus_joins_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_text("second\r\n")
    (tmp_path / "d" / "a.txt").write_text("first")
    (tmp_path / "d" / ".hidden").write_text("hidden")
    (tmp_path / "d" / "image.bin").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "d" / "empty.txt").write_text("")
    (tmp_path / "c.txt").write_text("third\n")
    text, files = read_corpus([tmp_path / "d", tmp_path / "c.txt"])
    assert text == "first\nsecond\nthird\n"
    assert [f.name for f in files] == ["a.txt", "b.txt", "c.txt"]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"nope\.txt: no such file or directory"):
        read_corpus([tmp_path / "nope.txt"])


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.txt").write_text("")
    with pytest.raises(UserError, match=r"e\.txt: the file is empty"):
        read_corpus([tmp_path / "e.txt"])


def test_directory_without_text(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(UserError, match=r"d: no text files in the directory"):
        read_corpus([tmp_path / "d"])


def test_undecodable_bytes_name_file_and_offset(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 au lait")
    with pytest.raises(
        UserError, match=r"latin\.txt: byte 0xe9 at offset 3 is not valid utf-8.*--encoding"
    ):
        read_text_file(tmp_path / "latin.txt")
    assert read_text_file(tmp_path / "latin.txt", "latin-1") == "café au lait"


def test_unknown_encoding(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("abc")
    with pytest.raises(UserError, match="--encoding 'klingon'"):
        read_corpus([tmp_path / "a.txt"], "klingon")


def test_builtin_corpus_is_deterministic_and_sized() -> None:
    text, where = builtin_corpus()
    again, _ = builtin_corpus()
    assert text == again
    assert 200_000 < len(text) < 2_000_000
    assert "standard-library" in where and len(MODULES) >= 20
    assert "def " in text and "self." in text


# ----- TBPTT batching -----------------------------------------------------------------------------


def test_split_stream_is_contiguous() -> None:
    train, val = split_stream(torch.arange(100), 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))


def test_stream_batches_shapes_and_contiguity() -> None:
    N, B, T = 1000, 4, 7
    s = StreamBatches(torch.arange(N), B, T)
    L = (N - 1) // B
    assert len(s) == L // T
    windows = [s.next() for _ in range(len(s))]
    for k, w in enumerate(windows):
        assert w.x.shape == (T, B) and w.y.shape == (T, B)
        assert w.reset == (k == 0)
        assert torch.equal(w.y, w.x + 1)  # targets are the next symbols
    rows = torch.cat([w.x for w in windows]).t()  # (B, windows*T): each row reads on seamlessly
    for b in range(B):
        assert rows[b].tolist() == list(range(b * L, b * L + len(s) * T))
    again = s.next()  # a new epoch starts over, and says so
    assert again.reset and torch.equal(again.x, windows[0].x)


def test_stream_batches_state_round_trip() -> None:
    s = StreamBatches(torch.arange(200), 2, 5)
    for _ in range(3):
        s.next()
    t = StreamBatches(torch.arange(200), 2, 5)
    t.load_state_dict(s.state_dict())
    assert torch.equal(t.next().x, s.next().x)


def test_stream_shorter_than_one_window() -> None:
    with pytest.raises(ValueError, match="fewer than one window"):
        StreamBatches(torch.arange(20), 4, 5)
