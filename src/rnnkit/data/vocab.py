"""The dictionary from symbols to indices that every task reads and writes: one class for all.

Two levels, as the classic texts use them:

* ``char`` — every character is a symbol (Karpathy's char-rnn; Graves 2013). The text is
  rebuilt exactly by joining the symbols.
* ``word`` — words, punctuation marks and line breaks are symbols (Mikolov et al. 2010 used
  words, with rare ones replaced by ``<unk>``). :func:`tokenize` splits, :func:`detokenize`
  joins with single spaces, none before closing punctuation nor around line breaks.

The special symbols come first, in the order the task asks for: a language model has only
``<unk>`` (index 0); the sequence tasks add ``<pad>`` before it (``<pad>`` = 0, the embedding's
padding index); translation adds ``<s>`` and ``</s>``. ``<unk>`` stands for the words left out of
the vocabulary (``max_size``, ``min_count``) and for characters the training text never had; a
model can score it but sampling never writes it. The other symbols are ordered by frequency (ties
alphabetically), so the list is deterministic. ``vocab.json`` holds ``level``, ``specials`` and
``symbols``; the two older layouts (a text run's without ``specials``, a sequence run's bare list)
are still read.

>>> v = Vocabulary.build("abracadabra", "char")
>>> v.symbols
['<unk>', 'a', 'b', 'r', 'c', 'd']
>>> v.encode("cab!")
[4, 1, 2, 0]
>>> v.decode(v.encode("bar"))
'bar'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from ..errors import UserError
from ..runs import load_json, save_json

__all__ = [
    "BOS",
    "EOS",
    "LEVELS",
    "PAD",
    "UNK",
    "Level",
    "Vocabulary",
    "detokenize",
    "join_token",
    "tokenize",
]

UNK, PAD, BOS, EOS = "<unk>", "<pad>", "<s>", "</s>"
Level = Literal["char", "word", "word-v1", "subword"]
LEVELS: tuple[Level, ...] = ("char", "word")  # what a user chooses
# "word-v1": how sequence runs of run format 1 split words (\w+ or one other mark; no line
# breaks, no inner apostrophes); kept so that those runs read new text exactly as they trained.
# "subword": translation's SentencePiece pieces (rnnkit.data.subword); the piece model, not
# tokenize, cuts text into them and joins them back.
_ALL_LEVELS: tuple[Level, ...] = ("char", "word", "word-v1", "subword")

# A word (letters/digits, with inner apostrophes: "don't"), a line break, or any other single
# visible character (punctuation).
_WORD = re.compile(r"\w+(?:['’]\w+)*|\n|[^\w\s]")
_WORD_V1 = re.compile(r"\w+|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?)]}'’\"")
_NO_SPACE_AFTER = set("([{")


def tokenize(text: str, level: str, lowercase: bool = False) -> list[str]:
    """Split ``text`` into symbols (after lower-casing it, with ``lowercase``).

    >>> tokenize("Speak, speak.\\nAll: don't!", "word")
    ['Speak', ',', 'speak', '.', '\\n', 'All', ':', "don't", '!']
    """
    if level == "subword":
        raise ValueError("subword symbols come from their piece model (rnnkit.data.subword)")
    if lowercase:
        text = text.lower()
    if level == "char":
        return list(text)
    return (_WORD_V1 if level == "word-v1" else _WORD).findall(text)


def join_token(previous: str | None, token: str) -> str:
    """The text to append for word ``token`` after ``previous`` (used to stream samples).

    >>> "".join(join_token(p, t) for p, t in [(None, "Hi"), ("Hi", ","), (",", "you"), ("you", "\\n")])
    'Hi, you\\n'
    >>> detokenize(tokenize("a well-known man--or so", "word"))  # hyphens and dashes bind
    'a well-known man--or so'
    """
    if previous is None or previous == "\n" or token == "\n" or previous in _NO_SPACE_AFTER:
        return token
    if token in _NO_SPACE_BEFORE or token == "-" or previous == "-":  # "well-known", "so--"
        return token
    return " " + token


def detokenize(tokens: Iterable[str]) -> str:
    """Join word-level tokens back into text (spacing is normalised, as :func:`join_token`)."""
    out, prev = [], None
    for t in tokens:
        out.append(join_token(prev, t))
        prev = t
    return "".join(out)


class Vocabulary:
    """Symbols <-> indices at one level, the ``specials`` first.

    Args:
        symbols: the known symbols in index order (the specials are put first when missing).
        level: ``"char"`` or ``"word"`` (how text is split into symbols).
        specials: the special symbols, in index order; ``<unk>`` among them.

    >>> v = Vocabulary.from_tokens(list("abcab"), "char", specials=(PAD, UNK))
    >>> v.symbols, v.pad_index, v.unk_index
    (['<pad>', '<unk>', 'a', 'b', 'c'], 0, 1)
    """

    def __init__(
        self, symbols: Sequence[str], level: str, specials: Sequence[str] = (UNK,)
    ) -> None:
        if level not in _ALL_LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        specials = tuple(specials)
        if UNK not in specials or len(set(specials)) != len(specials):
            raise ValueError(f"specials must be distinct and hold {UNK}, got {specials}")
        syms = [*specials, *(s for s in symbols if s not in specials)]
        if len(set(syms)) != len(syms):
            raise ValueError("a vocabulary's symbols must be distinct")
        self.symbols = syms
        self.level: Level = level  # checked above
        self.specials = specials
        self.index = {s: i for i, s in enumerate(syms)}
        self.unk_index = self.index[UNK]

    @property
    def pad_index(self) -> int | None:
        return self.index.get(PAD)

    @property
    def bos_index(self) -> int | None:
        return self.index.get(BOS)

    @property
    def eos_index(self) -> int | None:
        return self.index.get(EOS)

    @classmethod
    def build(
        cls,
        text: str,
        level: str,
        max_size: int = 0,
        min_count: int = 1,
        specials: Sequence[str] = (UNK,),
    ) -> Vocabulary:
        """The symbols of ``text``, most frequent first; at most ``max_size`` in all (0: no
        limit; the specials count), each seen at least ``min_count`` times."""
        return cls.from_tokens(tokenize(text, level), level, max_size, min_count, specials)

    @classmethod
    def from_tokens(
        cls,
        tokens: Iterable[str],
        level: str,
        max_size: int = 0,
        min_count: int = 1,
        specials: Sequence[str] = (UNK,),
    ) -> Vocabulary:
        """As :meth:`build`, from symbols already split by :func:`tokenize`."""
        counts = Counter(tokens)
        kept = sorted(
            (s for s, c in counts.items() if c >= min_count and s not in specials),
            key=lambda s: (-counts[s], s),
        )
        if max_size:
            kept = kept[: max(0, max_size - len(specials))]
        return cls(kept, level, specials)

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.index

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} {self.level} symbols)"

    def encode(self, text: str) -> list[int]:
        """Indices of the symbols of ``text``; unknown symbols become ``<unk>``."""
        return self.encode_tokens(tokenize(text, self.level))

    def encode_tokens(self, tokens: Iterable[str]) -> list[int]:
        get, unk = self.index.get, self.unk_index
        return [get(s, unk) for s in tokens]

    def unknown(self, text: str) -> list[str]:
        """The distinct symbols of ``text`` outside the vocabulary, in order of appearance."""
        return list(dict.fromkeys(s for s in tokenize(text, self.level) if s not in self.index))

    def decode(self, ids: Iterable[int]) -> str:
        if self.level == "subword":
            raise ValueError(
                "subword symbols are joined by their piece model (rnnkit.data.subword)"
            )
        tokens = [self.symbols[i] for i in ids]
        return "".join(tokens) if self.level == "char" else detokenize(tokens)

    def piece(self, previous: int | None, index: int) -> str:
        """The text that symbol ``index`` adds after symbol ``previous`` (for streaming)."""
        token = self.symbols[index]
        if self.level == "char":
            return token
        return join_token(None if previous is None else self.symbols[previous], token)

    # ----- files ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "specials": list(self.specials), "symbols": self.symbols}

    @classmethod
    def from_json(
        cls, obj: Any, source: str = "vocab.json", legacy_level: Level = "word-v1"
    ) -> Vocabulary:
        """Rebuild from :meth:`to_json`'s output, or from run format 1's layouts (a text run's
        ``{"level", "symbols"}``; a sequence run's bare list of tokens, read at ``legacy_level``
        with ``<pad>``, ``<unk>`` first). A malformed one is a :class:`UserError`."""
        if isinstance(obj, list) and all(isinstance(s, str) for s in obj):
            obj = {"level": legacy_level, "specials": [PAD, UNK], "symbols": [PAD, UNK, *obj]}
        ok = (
            isinstance(obj, dict)
            and obj.get("level") in _ALL_LEVELS
            and isinstance(obj.get("symbols"), list)
            and all(isinstance(s, str) for s in obj["symbols"])
            and isinstance(obj.get("specials", [UNK]), list)
        )
        if not ok:
            raise UserError(f'{source}: not an rnnkit vocabulary (needs "level" and "symbols")')
        specials = obj.get("specials", [UNK])
        if obj["symbols"][: len(specials)] != specials:
            raise UserError(f"{source}: the symbols must start with the specials {specials}")
        try:
            return cls(obj["symbols"], obj["level"], specials)
        except ValueError as e:
            raise UserError(f"{source}: {e}") from e

    def save(self, path: str | Path) -> None:
        save_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path, legacy_level: Level = "word-v1") -> Vocabulary:
        return cls.from_json(load_json(path), str(path), legacy_level)
