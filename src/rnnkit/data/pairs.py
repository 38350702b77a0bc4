"""Sentence pairs for translation: reading them, cleaning them, turning them into padded batches.

Files users have:

* Tatoeba / Anki tab-separated text (``.tsv``, ``.txt``): ``source<TAB>target[<TAB>anything]`` per
  line (the third column of the ManyThings files is the attribution; it is ignored). Blank lines are
  skipped; a line with one column is an error naming the file and line.
* CSV (``.csv``) with a header, and JSON Lines (``.jsonl``) of objects: the pair is read from two
  named columns (``source`` and ``target`` unless told otherwise).

Every text is put in Unicode normal form NFC (so "é" typed as ``e`` + combining accent and as one
code point are the same symbol), optionally lower-cased; ``reverse`` swaps the two sides. An empty
source or target is an error naming where it is. Pairs with a side longer than a length limit (in
symbols at the chosen level) are dropped and counted, never truncated.

Symbols (:func:`pair_tokens`): characters, or words as :func:`rnnkit.data.vocab.tokenize` splits
them except that a hyphen inside a word keeps it whole ("seventy-four", "well-known"), as
white-space tokenisation does in NMT toolkits (Joey NMT) — so such words come back unchanged.
Each side has its own level (e.g. digits by character, their English words by word). At
``subword`` level a side's symbols are the pieces of its SentencePiece model
(:class:`~rnnkit.data.subword.SubwordModel`, trained on that side of the training pairs), and
:func:`decode` joins them back with the same model; the functions below take it as ``pieces``.

A :class:`PairSet` keeps the token ids of both sides; :meth:`PairSet.batch` pads them with
``<pad>``: the source as it is, the decoder's input as ``<s> y_1 .. y_n`` and its target as
``y_1 .. y_n </s>``.

Shape letters: ``B`` pairs in a batch, ``S`` source steps, ``T`` target steps.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import UserError
from .subword import SubwordModel
from .vocab import BOS, EOS, PAD, UNK, Level, Vocabulary, tokenize

_WORD = re.compile(r"\w+(?:['’-]\w+)*|\n|[^\w\s]")

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SPECIALS",
    "PairBatch",
    "PairOptions",
    "PairSet",
    "Pairs",
    "build_pair_vocab",
    "clean",
    "decode",
    "encode",
    "filter_length",
    "pair_tokens",
    "read_pairs",
]

SPECIALS = (PAD, UNK, BOS, EOS)  # <pad> = 0, the embeddings' padding index


@dataclass
class PairOptions:
    """How a pair file is read (stored in a run's config)."""

    lower: bool = False  # lower-case both sides
    reverse: bool = False  # swap source and target (translate the other way)
    source_column: str = "source"  # CSV/JSONL: the column holding the source
    target_column: str = "target"  # CSV/JSONL: the column holding the target


@dataclass
class Pairs:
    """Parallel texts: ``sources[i]`` translates to ``targets[i]``; ``origins[i]`` says where it
    came from (``"data.tsv line 3"``) for messages."""

    sources: list[str]
    targets: list[str]
    origins: list[str]

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, idx: Iterable[int]) -> Pairs:
        idx = list(idx)
        return Pairs(
            [self.sources[i] for i in idx],
            [self.targets[i] for i in idx],
            [self.origins[i] for i in idx],
        )


def clean(text: str, lower: bool = False) -> str:
    """NFC normal form, surrounding white space removed, optionally lower-cased.

    >>> clean("  Cafe\\u0301 ", lower=True) == "caf\\u00e9"
    True
    """
    text = unicodedata.normalize("NFC", text).strip()
    return text.lower() if lower else text


def _rows_tsv(path: Path, text: str) -> Iterable[tuple[int, str, str]]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise UserError(
                f"{path} line {n}: one column; expected source<TAB>target (Tatoeba/Anki format)"
            )
        yield n, cols[0], cols[1]


def _rows_csv(path: Path, text: str, src: str, tgt: str) -> Iterable[tuple[int, str, str]]:
    reader = csv.DictReader(text.splitlines())
    names = reader.fieldnames or []
    missing = [c for c in (src, tgt) if c not in names]
    if missing:
        raise UserError(
            f"{path}: no column {missing[0]!r} (columns: {', '.join(names) or 'none'}); "
            "name them with --source-column/--target-column"
        )
    for n, row in enumerate(reader, 2):
        yield n, row[src] or "", row[tgt] or ""


def _rows_jsonl(path: Path, text: str, src: str, tgt: str) -> Iterable[tuple[int, str, str]]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path} line {n}: not JSON ({e.msg})") from e
        if not isinstance(obj, dict) or src not in obj or tgt not in obj:
            raise UserError(f"{path} line {n}: expected an object with keys {src!r} and {tgt!r}")
        yield n, str(obj[src]), str(obj[tgt])


def read_pairs(path: str | Path, options: PairOptions | None = None) -> Pairs:
    """Read a pair file (format from its suffix: ``.csv``, ``.jsonl``, anything else TSV).

    Raises:
        UserError: a missing or empty file, a line with one column, a missing column, an empty side.
    """
    opt = options or PairOptions()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise UserError(f"{p}: no such file") from e
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise UserError(f"{p}: cannot read ({e.strerror})") from e
    suffix = p.suffix.lower()
    if suffix == ".csv":
        rows = _rows_csv(p, text, opt.source_column, opt.target_column)
    elif suffix == ".jsonl":
        rows = _rows_jsonl(p, text, opt.source_column, opt.target_column)
    else:
        rows = _rows_tsv(p, text)
    pairs = Pairs([], [], [])
    for n, raw_src, raw_tgt in rows:
        src, tgt = clean(raw_src, opt.lower), clean(raw_tgt, opt.lower)
        for side, value in (("source", src), ("target", tgt)):
            if not value:
                raise UserError(f"{p} line {n}: empty {side}")
        if opt.reverse:
            src, tgt = tgt, src
        pairs.sources.append(src)
        pairs.targets.append(tgt)
        pairs.origins.append(f"{p.name} line {n}")
    if not pairs.sources:
        raise UserError(f"{p}: no sentence pairs in the file")
    return pairs


def pair_tokens(text: str, level: Level, pieces: SubwordModel | None = None) -> list[str]:
    """The symbols of ``text`` at ``level`` (see the module docstring); ``subword`` level needs
    the side's piece model as ``pieces``.

    >>> pair_tokens("Twenty-one, isn't it?", "word")
    ['Twenty-one', ',', "isn't", 'it', '?']
    """
    if level == "subword":
        if pieces is None:
            raise ValueError("subword level: pair_tokens needs the side's piece model (pieces=)")
        return pieces.split(text)
    return _WORD.findall(text) if level == "word" else tokenize(text, level)


def filter_length(
    pairs: Pairs,
    level: Level,
    max_length: int,
    target_level: Level | None = None,
    pieces: tuple[SubwordModel | None, SubwordModel | None] = (None, None),
) -> tuple[Pairs, int]:
    """Drop pairs with a side longer than ``max_length`` symbols (0: keep all); the target is
    counted at ``target_level`` (default: ``level``); ``pieces``: the (source, target) piece
    models of a side at ``subword`` level.

    Returns:
        ``(kept pairs, number dropped)``.

    >>> p = Pairs(["ab", "abcd"], ["x", "y"], ["1", "2"])
    >>> kept, dropped = filter_length(p, "char", 3)
    >>> kept.sources, dropped
    (['ab'], 1)
    """
    if max_length <= 0:
        return pairs, 0
    keep = [
        i
        for i, (s, t) in enumerate(zip(pairs.sources, pairs.targets, strict=True))
        if len(pair_tokens(s, level, pieces[0])) <= max_length
        and len(pair_tokens(t, target_level or level, pieces[1])) <= max_length
    ]
    return pairs.subset(keep), len(pairs) - len(keep)


def build_pair_vocab(
    texts: Iterable[str], level: Level, max_size: int = 0, min_count: int = 1
) -> Vocabulary:
    """A vocabulary with ``<pad>``, ``<unk>``, ``<s>``, ``</s>`` first, then the symbols of
    ``texts`` by frequency (ties alphabetically); ``max_size`` counts the specials.

    >>> build_pair_vocab(["abba"], "char").symbols
    ['<pad>', '<unk>', '<s>', '</s>', 'a', 'b']
    """
    tokens = (s for t in texts for s in pair_tokens(t, level))
    return Vocabulary.from_tokens(tokens, level, max_size, min_count, specials=SPECIALS)


def special_ids(vocab: Vocabulary) -> tuple[int, int, int]:
    """``(pad, bos, eos)`` indices; a vocabulary without them is a :class:`UserError`."""
    missing = [s for s in (PAD, BOS, EOS) if s not in vocab]
    if missing:
        raise UserError(f"the vocabulary has no {missing[0]} symbol (not a translation vocabulary)")
    return vocab.index[PAD], vocab.index[BOS], vocab.index[EOS]


def encode(vocab: Vocabulary, text: str, pieces: SubwordModel | None = None) -> np.ndarray:
    """``text``'s symbol ids (:func:`pair_tokens` at ``vocab``'s level), ``<unk>`` for unknowns."""
    return np.array(vocab.encode_tokens(pair_tokens(text, vocab.level, pieces)), dtype=np.int64)


def decode(vocab: Vocabulary, ids: Iterable[int], pieces: SubwordModel | None = None) -> str:
    """The text of symbol ids: characters joined, words with single spaces (none before closing
    punctuation), subword pieces by their model (``pieces``).

    >>> decode(build_pair_vocab(["Hi, you"], "word"), [6, 4, 5])
    'you, Hi'
    """
    if vocab.level != "subword":
        return vocab.decode(ids)
    if pieces is None:
        raise ValueError("subword level: decode needs the side's piece model (pieces=)")
    return pieces.join([vocab.symbols[i] for i in ids])


@dataclass
class PairBatch:
    """Padded pairs, batch-first.

    Attributes:
        src: ``(B, S)`` source ids, ``<pad>`` past ``src_lengths``.
        src_lengths: ``(B,)``.
        tgt_in: ``(B, T)`` decoder input ``<s> y_1 .. y_n``, ``<pad>`` after.
        tgt_out: ``(B, T)`` decoder target ``y_1 .. y_n </s>``, ``<pad>`` after.
        tgt_lengths: ``(B,)`` ``n + 1``.
        index: ``(B,)`` the rows' positions in their :class:`PairSet`.
    """

    src: Tensor
    src_lengths: Tensor
    tgt_in: Tensor
    tgt_out: Tensor
    tgt_lengths: Tensor
    index: np.ndarray


class PairSet:
    """Pairs encoded with a source and a target vocabulary, ready to batch (``pieces``: the
    (source, target) piece models of a side at ``subword`` level).

    >>> pairs = Pairs(["ab", "b"], ["xy", "y"], ["1", "2"])
    >>> sv, tv = build_pair_vocab(pairs.sources, "char"), build_pair_vocab(pairs.targets, "char")
    >>> b = PairSet(pairs, sv, tv).batch([0, 1])
    >>> b.src.tolist(), b.tgt_in.tolist(), b.tgt_out.tolist()
    ([[5, 4], [4, 0]], [[2, 5, 4], [2, 4, 0]], [[5, 4, 3], [4, 3, 0]])
    """

    def __init__(
        self,
        pairs: Pairs,
        src_vocab: Vocabulary,
        tgt_vocab: Vocabulary,
        pieces: tuple[SubwordModel | None, SubwordModel | None] = (None, None),
    ) -> None:
        self.pairs = pairs
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.src_pad = special_ids(src_vocab)[0]
        self.tgt_pad, self.bos, self.eos = special_ids(tgt_vocab)
        self.src_ids = [encode(src_vocab, s, pieces[0]) for s in pairs.sources]
        self.tgt_ids = [encode(tgt_vocab, t, pieces[1]) for t in pairs.targets]
        self.src_unknown = sum(int((a == src_vocab.unk_index).sum()) for a in self.src_ids)

    def __len__(self) -> int:
        return len(self.src_ids)

    def src_lengths(self) -> np.ndarray:
        return np.array([len(a) for a in self.src_ids], dtype=np.int64)

    def batch(self, idx: Sequence[int] | np.ndarray) -> PairBatch:
        """Rows ``idx``, padded to their longest source and target."""
        idx = np.asarray(idx, dtype=np.int64)
        srcs = [self.src_ids[i] for i in idx]
        tgts = [self.tgt_ids[i] for i in idx]
        S = max(len(s) for s in srcs)
        T = max(len(t) for t in tgts) + 1
        src = np.full((len(idx), S), self.src_pad, dtype=np.int64)
        tin = np.full((len(idx), T), self.tgt_pad, dtype=np.int64)
        tout = np.full((len(idx), T), self.tgt_pad, dtype=np.int64)
        for r, (s, t) in enumerate(zip(srcs, tgts, strict=True)):
            src[r, : len(s)] = s
            tin[r, 0], tin[r, 1 : len(t) + 1] = self.bos, t
            tout[r, : len(t)], tout[r, len(t)] = t, self.eos
        return PairBatch(
            torch.from_numpy(src),
            torch.tensor([len(s) for s in srcs], dtype=torch.int64),
            torch.from_numpy(tin),
            torch.from_numpy(tout),
            torch.tensor([len(t) + 1 for t in tgts], dtype=torch.int64),
            idx,
        )
