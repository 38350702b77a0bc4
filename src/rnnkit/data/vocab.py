"""The dictionary from symbols to indices that a language model reads and writes.

Two levels, as the classic texts use them:

* ``char`` — every character is a symbol (Karpathy's char-rnn; Graves 2013). The text is
  rebuilt exactly by joining the symbols.
* ``word`` — words, punctuation marks and line breaks are symbols (Mikolov et al. 2010 used
  words, with rare ones replaced by ``<unk>``). :func:`tokenize` splits, :func:`detokenize`
  joins with single spaces, none before closing punctuation nor around line breaks.

Index 0 is always the unknown symbol ``<unk>``: at the word level it stands for the words left
out of the vocabulary (``max_size``, ``min_count``); at the char level for characters the
training text never had. A model can score it but sampling never writes it. Symbols are
ordered by frequency (ties alphabetically), so the list is deterministic.

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

__all__ = ["LEVELS", "UNK", "Level", "Vocabulary", "detokenize", "join_token", "tokenize"]

UNK = "<unk>"
Level = Literal["char", "word"]
LEVELS: tuple[Level, ...] = ("char", "word")

# A word (letters/digits, with inner apostrophes: "don't"), a line break, or any other single
# visible character (punctuation).
_WORD = re.compile(r"\w+(?:['’]\w+)*|\n|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?)]}'’\"")
_NO_SPACE_AFTER = set("([{")


def tokenize(text: str, level: Level) -> list[str]:
    """Split ``text`` into symbols.

    >>> tokenize("Speak, speak.\\nAll: don't!", "word")
    ['Speak', ',', 'speak', '.', '\\n', 'All', ':', "don't", '!']
    """
    if level == "char":
        return list(text)
    return _WORD.findall(text)


def join_token(previous: str | None, token: str) -> str:
    """The text to append for word ``token`` after ``previous`` (used to stream samples).

    >>> "".join(join_token(p, t) for p, t in [(None, "Hi"), ("Hi", ","), (",", "you"), ("you", "\\n")])
    'Hi, you\\n'
    """
    if previous is None or previous == "\n" or token == "\n" or previous in _NO_SPACE_AFTER:
        return token
    if token in _NO_SPACE_BEFORE:
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
    """Symbols <-> indices at one level, with ``<unk>`` at index 0.

    Args:
        symbols: the known symbols in index order, ``<unk>`` first (added when missing).
        level: ``"char"`` or ``"word"``.
    """

    def __init__(self, symbols: Sequence[str], level: Level) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        syms = list(symbols)
        if not syms or syms[0] != UNK:
            syms = [UNK, *(s for s in syms if s != UNK)]
        if len(set(syms)) != len(syms):
            raise ValueError("a vocabulary's symbols must be distinct")
        self.symbols = syms
        self.level: Level = level
        self.index = {s: i for i, s in enumerate(syms)}

    unk_index = 0

    @classmethod
    def build(cls, text: str, level: Level, max_size: int = 0, min_count: int = 1) -> Vocabulary:
        """The symbols of ``text``, most frequent first; at most ``max_size`` (0: all, ``<unk>``
        included in the count) seen at least ``min_count`` times."""
        return cls.from_tokens(tokenize(text, level), level, max_size, min_count)

    @classmethod
    def from_tokens(
        cls, tokens: Iterable[str], level: Level, max_size: int = 0, min_count: int = 1
    ) -> Vocabulary:
        """As :meth:`build`, from symbols already split by :func:`tokenize`."""
        counts = Counter(tokens)
        kept = sorted(
            (s for s, c in counts.items() if c >= min_count and s != UNK),
            key=lambda s: (-counts[s], s),
        )
        if max_size:
            kept = kept[: max(0, max_size - 1)]
        return cls([UNK, *kept], level)

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.index

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} {self.level} symbols)"

    def encode(self, text: str) -> list[int]:
        """Indices of the symbols of ``text``; unknown symbols become ``<unk>`` (index 0)."""
        return self.encode_tokens(tokenize(text, self.level))

    def encode_tokens(self, tokens: Iterable[str]) -> list[int]:
        get = self.index.get
        return [get(s, 0) for s in tokens]

    def unknown(self, text: str) -> list[str]:
        """The distinct symbols of ``text`` outside the vocabulary, in order of appearance."""
        return list(dict.fromkeys(s for s in tokenize(text, self.level) if s not in self.index))

    def decode(self, ids: Iterable[int]) -> str:
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
        return {"level": self.level, "symbols": self.symbols}

    @classmethod
    def from_json(cls, obj: Any, source: str = "vocab.json") -> Vocabulary:
        """Rebuild from :meth:`to_json`'s output; a malformed one is a :class:`UserError`."""
        ok = (
            isinstance(obj, dict)
            and obj.get("level") in LEVELS
            and isinstance(obj.get("symbols"), list)
            and all(isinstance(s, str) for s in obj["symbols"])
            and obj["symbols"][:1] == [UNK]
        )
        if not ok:
            raise UserError(f'{source}: not an rnnkit vocabulary (needs "level" and "symbols")')
        try:
            return cls(obj["symbols"], obj["level"])
        except ValueError as e:
            raise UserError(f"{source}: {e}") from e

    def save(self, path: str | Path) -> None:
        save_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        return cls.from_json(load_json(path), str(path))
