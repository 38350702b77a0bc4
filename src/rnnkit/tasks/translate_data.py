"""The translate task's data: how pairs are read (:class:`TranslateData`), the symbol levels each
side defaults to, the train/validation split, and the SentencePiece models of the subword level.

:func:`load_pair_data` is the whole path: read the pairs (a built-in set or a file), split off
5 % (at most 1,000 pairs each) for validation and the run's ``test.tsv``, and drop the pairs
longer than ``--max-length`` symbols at each side's level. At ``subword`` level those symbols are
pieces of a model trained on that side of the training pairs (:func:`fit_pieces`) or read back
from the run (:func:`load_pieces`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import check, option
from ..data.pairs import PairOptions, Pairs, filter_length, read_pairs
from ..data.pairs_builtin import BUILTIN_PAIRS, builtin_pairs
from ..data.subword import MODEL_TYPES, SubwordModel
from ..data.vocab import Level
from ..errors import UserError

__all__ = [
    "SRC_PIECES",
    "TGT_PIECES",
    "PairData",
    "Pieces",
    "TranslateData",
    "data_fingerprint",
    "default_level",
    "default_levels",
    "filter_pair_data",
    "fit_pieces",
    "load_pair_data",
    "load_pieces",
    "split_pair_data",
]

SRC_PIECES, TGT_PIECES = "src_subword.model", "tgt_subword.model"
Pieces = tuple[SubwordModel | None, SubwordModel | None]  # (source, target); None: not subword


@dataclass
class TranslateData:
    """How the pairs are read."""

    level: str = option("auto", "symbols: char, word, subword (SentencePiece pieces learnt from the "
                        "training pairs), or auto (dates: char; numbers: digits by char, words by "
                        "word; otherwise word)", choices=("auto", "char", "word", "subword"))  # fmt: skip
    target_level: str = option("same", "the target side's symbols if not --level's: char, word, "
                               "subword", choices=("same", "char", "word", "subword"))  # fmt: skip
    subword_vocab: int = option(1000, "subword level: the most pieces per side (the 4 specials "
                                "included); fewer if the training text allows fewer", low=5)  # fmt: skip
    subword_type: str = option("unigram", "subword level: how pieces are learnt, unigram (Kudo "
                               "2018) or bpe (Sennrich et al. 2016)", choices=MODEL_TYPES)  # fmt: skip
    max_length: int = option(0, "drop pairs with a side longer than N symbols (counted); 0: keep "
                             "all", low=0)  # fmt: skip
    lower: bool = option(False, "lower-case both sides (also what is translated later)")
    reverse: bool = option(False, "translate the other way: target to source")
    source_column: str = option("source", "CSV/JSONL: the source column", metavar="NAME")
    target_column: str = option("target", "CSV/JSONL: the target column", metavar="NAME")
    max_vocab: int = option(0, "char/word level: keep the N most frequent symbols per side "
                            "(specials included), the rest become <unk>; 0: all", low=0)  # fmt: skip
    min_count: int = option(1, "char/word level: rarer symbols become <unk>", low=1)
    train_size: int = option(0, "built-in sets: training pairs (0: the set's own, 20k dates, "
                             "50k numbers/reverse)", low=0)  # fmt: skip

    def __post_init__(self) -> None:
        check(self)

    def options(self) -> PairOptions:
        return PairOptions(self.lower, self.reverse, self.source_column, self.target_column)


def default_levels(data: str, d: TranslateData) -> tuple[Level, Level]:
    """(source, target) levels: ``d.level`` (``auto``: what suits ``data``) and ``d.target_level``.

    >>> default_levels("numbers", TranslateData()), default_levels("numbers", TranslateData(reverse=True))
    (('char', 'word'), ('word', 'char'))
    """
    if d.level in ("char", "word", "subword"):
        src = tgt = d.level
    elif data == "dates":
        src = tgt = "char"
    elif data == "numbers":
        src, tgt = ("word", "char") if d.reverse else ("char", "word")
    else:
        src = tgt = "word"
    if d.target_level in ("char", "word", "subword"):
        tgt = d.target_level
    return src, tgt  # type: ignore[return-value]


def default_level(data: str, level: str) -> Level:
    """The source level for ``level`` (see :func:`default_levels`)."""
    return default_levels(data, TranslateData(level=level))[0]


@dataclass
class PairData:
    """Train / validation / test pairs, and how many training pairs the length limit dropped."""

    train: Pairs
    val: Pairs
    tests: dict[str, Pairs]
    dropped: int


def _swap(p: Pairs) -> Pairs:
    return Pairs(p.targets, p.sources, p.origins)


def load_pair_data(data: str, d: TranslateData, seed: int, pieces: Pieces | None = None) -> PairData:  # fmt: skip
    """A built-in set by name, or a pair file split 90/5/5 (seeded); filtered by ``max_length``
    (symbols at subword level: the pieces of ``pieces``, or of piece models trained here)."""
    pd = split_pair_data(data, d, seed)
    if pieces is None:
        pieces = fit_pieces(pd.train, d, seed, default_levels(data, d))
    return filter_pair_data(pd, data, d, pieces)


def split_pair_data(data: str, d: TranslateData, seed: int) -> PairData:
    """A built-in set by name, or a pair file split 90/5/5 (seeded); nothing dropped yet."""
    if data in BUILTIN_PAIRS:
        b = builtin_pairs(data, seed, d.train_size)
        train, val, tests = b.train, b.val, dict(b.tests)
        if d.reverse:
            train, val = _swap(train), _swap(val)
            tests = {k: _swap(v) for k, v in tests.items()}
    elif not Path(data).is_file():
        raise UserError(f"{data}: no such file, nor a built-in set ({', '.join(BUILTIN_PAIRS)})")
    else:
        pairs = read_pairs(data, d.options())
        n = len(pairs)
        k = min(1000, n // 20)
        if k == 0:
            raise UserError(
                f"{data}: {n} pairs; at least 20 are needed to keep some for validation"
            )
        order = np.random.default_rng(seed).permutation(n)
        val, tests = pairs.subset(order[:k]), {"test": pairs.subset(order[k : 2 * k])}
        train = pairs.subset(sorted(order[2 * k :]))
    return PairData(train, val, tests, 0)


def filter_pair_data(pd: PairData, data: str, d: TranslateData, pieces: Pieces) -> PairData:
    """``pd`` less the training and validation pairs longer than ``--max-length`` symbols."""
    level, tgt_level = default_levels(data, d)
    train, dropped = filter_length(pd.train, level, d.max_length, tgt_level, pieces)
    if not len(train):
        raise UserError(f"{data}: every pair is longer than --max-length {d.max_length}")
    val, _ = filter_length(pd.val, level, d.max_length, tgt_level, pieces)
    return PairData(train, val, pd.tests, dropped)


def fit_pieces(train: Pairs, d: TranslateData, seed: int, levels: tuple[Level, Level]) -> Pieces:
    """The piece models of the sides at subword level, each trained on its side of ``train``
    (before the length filter, which counts pieces)."""
    src, tgt = levels
    return (
        SubwordModel.train(train.sources, d.subword_vocab, d.subword_type, seed,
                           "the source side's training text") if src == "subword" else None,
        SubwordModel.train(train.targets, d.subword_vocab, d.subword_type, seed,
                           "the target side's training text") if tgt == "subword" else None,
    )  # fmt: skip


def load_pieces(run: Path, levels: tuple[Level, Level]) -> Pieces:
    """The piece models a run keeps for its sides at subword level."""
    src, tgt = levels
    return (SubwordModel.load(run / SRC_PIECES) if src == "subword" else None,
            SubwordModel.load(run / TGT_PIECES) if tgt == "subword" else None)  # fmt: skip


def data_fingerprint(data: str, d: TranslateData, seed: int) -> str:
    """The sha256 a resumed run checks: of the file, or of a built-in set's recipe."""
    if data in BUILTIN_PAIRS:
        return hashlib.sha256(f"builtin:{data}:{d.train_size}:{seed}".encode()).hexdigest()
    return hashlib.sha256(Path(data).read_bytes()).hexdigest()
