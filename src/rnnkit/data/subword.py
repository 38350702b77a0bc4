"""Subword symbols for translation: a SentencePiece model trained on one side of the training pairs.

SentencePiece (Kudo & Richardson 2018) learns a vocabulary of *pieces* — whole frequent words,
frequent parts of words, single characters — from raw text, and cuts any text into them: rare
words become several pieces instead of ``<unk>``, frequent ones stay whole. Two ways to learn the
pieces: the unigram language model (Kudo 2018; SentencePiece's default) or byte-pair encoding
(Sennrich et al. 2016). A piece that starts a word carries ``▁`` (U+2581) for the space before
it, so joining the pieces gives the text back.

How rnnkit trains a piece model (:meth:`SubwordModel.train`), every option fixed so that the same
texts and seed give the same bytes:

* the texts in the order given (the training split's order), all of them, no shuffling
  (``input_sentence_size=0``, ``shuffle_input_sentence=false``), on one thread (``num_threads=1``:
  the EM sums of the unigram trainer run in one order), the random generator seeded;
* ids 0-3 are rnnkit's specials ``<pad> <unk> <s> </s>``, so a piece's id in the model is its
  index in the run's :class:`~rnnkit.data.vocab.Vocabulary` (:meth:`SubwordModel.vocabulary`);
* no normalisation besides rnnkit's own (NFC and the optional lower-casing of
  :func:`rnnkit.data.pairs.clean`; ``normalization_rule_name=identity``), except that runs of spaces
  count as one (``remove_extra_whitespaces``); every character of the training text is a piece
  (``character_coverage=1``);
* ``vocab_size`` counts the four specials and is an upper bound (``hard_vocab_limit=false``): a
  text that allows fewer pieces gets fewer. Asking for fewer than its characters need, or a text
  too small to learn any piece longer than one character, is a :class:`~rnnkit.errors.UserError`.

A run keeps the model's serialized bytes (SentencePiece's ``ModelProto``, read by every
SentencePiece) as ``src_subword.model`` / ``tgt_subword.model`` beside its vocabularies.
sentencepiece is an optional extra: ``pip install rnnkit[translate]``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runs import atomic_write
from .vocab import BOS, EOS, PAD, UNK, Vocabulary

__all__ = ["MODEL_TYPES", "SubwordModel", "have_sentencepiece", "sentencepiece"]

MODEL_TYPES = ("unigram", "bpe")
SPECIALS = (PAD, UNK, BOS, EOS)  # ids 0-3, as rnnkit.data.pairs.SPECIALS
WORD_START = "\u2581"  # "▁", SentencePiece's mark of a space before a piece
INSTALL = "pip install rnnkit[translate]"
_TOO_FEW = re.compile(r"smaller than required_chars\. (\d+) vs (\d+)")


def have_sentencepiece() -> bool:
    """Whether the optional ``sentencepiece`` package can be imported."""
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        return False
    return True


def sentencepiece(why: str = "--level subword") -> Any:
    """The ``sentencepiece`` module; without it a :class:`UserError` saying how to install it."""
    try:
        import sentencepiece as spm
    except ImportError as e:
        raise UserError(f"{why} needs sentencepiece: {INSTALL}") from e
    return spm


class SubwordModel:
    """A trained SentencePiece model: text to pieces and back.

    Args:
        proto: the model's serialized bytes (as :meth:`train` makes them, or a run's file).
        source: what to name in messages (the file it came from).

    >>> m = SubwordModel.train(["low lower lowest", "new newer newest"] * 20, 40, "bpe")
    >>> m.split("lower newest"), m.split("slower")
    (['▁lower', '▁newest'], ['▁', 's', 'lo', 'wer'])
    >>> [m.label(p) for p in m.split("slower")]
    ['␣', 's', 'lo', 'wer']
    >>> m.join(m.split("slow  news")), len(m), m.vocabulary().symbols[:6]
    ('slow news', 40, ['<pad>', '<unk>', '<s>', '</s>', 'we', 'lo'])
    """

    def __init__(self, proto: bytes, source: str = "the piece model") -> None:
        spm = sentencepiece(f"{source}: a subword-level run")
        try:
            self._sp = spm.SentencePieceProcessor(model_proto=proto)
        except RuntimeError as e:
            raise UserError(f"{source}: not a SentencePiece model") from e
        head = [self._sp.id_to_piece(i) for i in range(min(4, len(self)))]
        if head != list(SPECIALS):
            raise UserError(f"{source}: its first pieces are {head}, not rnnkit's {list(SPECIALS)}")
        self.proto = bytes(proto)
        self.source = source

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        model_type: str = "unigram",
        seed: int = 0,
        name: str = "the text",
    ) -> SubwordModel:
        """Learn at most ``vocab_size`` pieces (the four specials included) from ``texts``.

        Args:
            texts: the training sentences, cleaned (:func:`rnnkit.data.pairs.clean`), in order.
            vocab_size: the most pieces to keep; fewer when the text allows fewer.
            model_type: ``"unigram"`` (Kudo 2018) or ``"bpe"`` (Sennrich et al. 2016).
            seed: seeds SentencePiece's random generator.
            name: what the texts are, for messages (``"the source side"``).

        Raises:
            UserError: sentencepiece is missing, ``vocab_size`` is below what the characters
                need, or the text is too small to learn a piece longer than one character.
        """
        if model_type not in MODEL_TYPES:
            raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}")
        spm = sentencepiece()
        texts = [t for t in texts if t.strip()]
        if not texts:
            raise UserError(f"{name}: no training text to learn subword pieces from")
        out = io.BytesIO()
        spm.set_random_generator_seed(seed)
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(texts), model_writer=out, vocab_size=vocab_size,
                model_type=model_type, num_threads=1, input_sentence_size=0,
                shuffle_input_sentence=False, normalization_rule_name="identity",
                remove_extra_whitespaces=True, character_coverage=1.0, hard_vocab_limit=False,
                pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece=PAD, unk_piece=UNK,
                bos_piece=BOS, eos_piece=EOS, unk_surface=UNK, minloglevel=2,
            )  # fmt: skip
        except RuntimeError as e:
            few = _TOO_FEW.search(str(e))
            if few:
                raise UserError(
                    f"--subword-vocab {vocab_size}: {name} needs at least {few.group(2)} "
                    "pieces (its characters and the 4 specials)"
                ) from e
            reason = str(e).rsplit("]", 1)[-1].strip() or str(e)
            raise UserError(f"{name}: sentencepiece could not learn pieces ({reason})") from e
        model = cls(out.getvalue(), f"the piece model of {name}")
        if all(len(p.replace(WORD_START, "")) <= 1 for p in model.pieces()[len(SPECIALS) :]):
            raise UserError(
                f"{name}: {len(texts):,} sentences are too few to learn subword pieces "
                "(sentencepiece found none longer than one character); use --level char or more "
                "pairs"
            )
        return model

    def __len__(self) -> int:
        return int(self._sp.get_piece_size())

    def __repr__(self) -> str:
        return f"SubwordModel({len(self)} pieces)"

    def pieces(self) -> list[str]:
        """All pieces, in id order (the specials first)."""
        return [self._sp.id_to_piece(i) for i in range(len(self))]

    def vocabulary(self) -> Vocabulary:
        """The run's :class:`Vocabulary` at ``subword`` level: the pieces, ids unchanged."""
        return Vocabulary(self.pieces(), "subword", specials=SPECIALS)

    def normalize(self, text: str) -> str:
        """``text`` as the model reads it (runs of spaces as one, no space at either end)."""
        text = str(self._sp.normalize(text)).replace(WORD_START, " ")
        return text[1:] if text.startswith(" ") else text  # less the space it puts first

    def split(self, text: str) -> list[str]:
        """The pieces of ``text`` (a character the model never saw is a piece of its own, which
        the vocabulary reads as ``<unk>``)."""
        return [str(p) for p in self._sp.encode(text, out_type=str)]

    def join(self, pieces: Sequence[str]) -> str:
        """The text of ``pieces`` (``split``'s inverse on normalised text); specials other than
        ``<unk>`` are left out."""
        return str(self._sp.decode_pieces(list(pieces)))

    def label(self, piece: str) -> str:
        """How one piece reads on its own, e.g. on a plot's axis: its text, as :meth:`join` writes
        it at the start of a text (without the word-start mark; ``"▁"`` alone is ``"␣"``); specials
        as they are."""
        if piece in SPECIALS:
            return piece
        return piece.removeprefix(WORD_START) or "␣"

    def save(self, path: str | Path) -> None:
        """Write the serialized model to ``path`` atomically."""

        def write(tmp: Path) -> None:
            tmp.write_bytes(self.proto)

        atomic_write(Path(path), write)

    @classmethod
    def load(cls, path: str | Path) -> SubwordModel:
        """Read a model :meth:`save` wrote; a missing or damaged file is a :class:`UserError`."""
        p = Path(path)
        try:
            proto = p.read_bytes()
        except FileNotFoundError as e:
            raise UserError(f"{p}: missing (a subword-level run keeps its piece model)") from e
        except OSError as e:
            raise UserError(f"{p}: cannot read ({e.strerror})") from e
        return cls(proto, str(p))
