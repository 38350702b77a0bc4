"""Text corpora for language models: reading them with checked errors, and cutting them into
parallel streams for truncated backpropagation through time.

Reading (:func:`read_corpus`): files and directories (every non-hidden file below it that is not
binary), decoded with the given encoding; Windows line ends become ``\\n``. Each problem is a
:class:`~rnnkit.errors.UserError` naming the path: a missing path, an empty file, a directory
with no text, bytes the encoding cannot decode (with the byte offset).

Batching (:class:`StreamBatches`): the training symbols are cut into ``B`` contiguous rows, the
layout of char-rnn (Karpathy 2015) and of Zaremba et al. 2014. Window ``k`` holds symbols
``kT .. kT+T-1`` of every row as input and the next symbol of each as target, so a model that
carries its state from one window to the next (detaching it: truncated BPTT, Williams & Peng
1990) reads every row as one long text.

Shape letters: ``N`` symbols, ``B`` streams (rows), ``L`` symbols per row, ``T`` window length.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch  # noqa: F401 (the doctests use it)
from torch import Tensor

from ..errors import UserError

__all__ = ["StreamBatches", "Window", "read_corpus", "read_text_file", "split_stream"]

_BINARY_SNIFF = 8192


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError as e:
        raise UserError(f"--encoding {encoding!r} is not an encoding Python knows") from e


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        bad = raw[e.start : e.start + 1]
        raise UserError(
            f"{path}: byte 0x{bad.hex()} at offset {e.start} is not valid {encoding} ({e.reason}); "
            "choose the file's encoding with --encoding (e.g. --encoding latin-1)"
        ) from e
    if text.startswith("\ufeff"):  # a byte-order mark is not text
        text = text[1:]
    return text.replace("\r\n", "\n")


def read_text_file(path: str | Path, encoding: str = "utf-8") -> str:
    """Read one text file.

    Raises:
        UserError: the path is missing or not a file, the file is empty, or it does not decode.
    """
    _check_encoding(encoding)
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read it: {e.strerror or e}") from e
    if not raw:
        raise UserError(f"{path}: the file is empty")
    return _decode(path, raw, encoding)


def _text_files(directory: Path) -> list[Path]:
    """Non-hidden regular files below ``directory``, sorted, without empty or binary ones (a NUL
    byte in the first 8 KiB)."""
    found = []
    for p in sorted(directory.rglob("*")):
        rel = p.relative_to(directory)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        try:
            with open(p, "rb") as f:
                head = f.read(_BINARY_SNIFF)
        except OSError:
            continue
        if head and b"\x00" not in head:
            found.append(p)
    return found


def read_corpus(paths: Sequence[str | Path], encoding: str = "utf-8") -> tuple[str, list[Path]]:
    """Read and join files and directories into one text; returns it and the files read.

    Files are joined with a line break between them when the previous one does not end in one.

    Raises:
        UserError: a missing path, an empty file, a directory with no text files, undecodable
            bytes (naming the file and byte offset), or no text at all.
    """
    _check_encoding(encoding)
    files: list[Path] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            inside = _text_files(p)
            if not inside:
                raise UserError(f"{p}: no text files in the directory")
            files.extend(inside)
        elif not p.exists():
            raise UserError(f"{p}: no such file or directory")
        else:
            files.append(p)
    parts: list[str] = []
    for f in files:
        text = read_text_file(f, encoding)
        if parts and not parts[-1].endswith("\n"):
            parts.append("\n")
        parts.append(text)
    text = "".join(parts)
    if not text.strip():
        where = ", ".join(str(p) for p in paths)
        raise UserError(f"{where}: no text (only whitespace)")
    return text, files


def split_stream(ids: Tensor, val_fraction: float) -> tuple[Tensor, Tensor]:
    """Cut ``ids (N,)`` into a training head and a contiguous validation tail.

    >>> train, val = split_stream(torch.arange(10), 0.2)
    >>> train.tolist(), val.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n_train = len(ids) - max(1, round(len(ids) * val_fraction))
    return ids[:n_train], ids[n_train:]


@dataclass
class Window:
    """One TBPTT window: inputs ``x (T, B)``, targets ``y (T, B)`` (the next symbols), and
    ``reset``: True at the start of an epoch, when a carried state must be dropped."""

    x: Tensor
    y: Tensor
    reset: bool


class StreamBatches:
    """``B`` parallel contiguous streams over ``ids``, read ``T`` symbols at a time.

    Row ``b`` reads ``ids[b L : (b+1) L]`` (inputs) with targets one symbol ahead, where
    ``L = (N - 1) // B``; an epoch is ``L // T`` windows (the ragged end of each row is left out),
    after which reading starts again at the beginning with ``reset=True``.

    >>> s = StreamBatches(torch.arange(21), batch=2, seq_len=3)
    >>> w = s.next()
    >>> w.x.T.tolist(), w.y.T.tolist(), w.reset
    ([[0, 1, 2], [10, 11, 12]], [[1, 2, 3], [11, 12, 13]], True)
    >>> s.next().x.T.tolist()
    [[3, 4, 5], [13, 14, 15]]

    Raises:
        ValueError: fewer than one window of symbols (``B * T + 1``).
    """

    def __init__(self, ids: Tensor, batch: int, seq_len: int) -> None:
        if batch < 1 or seq_len < 1:
            raise ValueError(f"batch and seq_len must be positive, got {batch} and {seq_len}")
        n = len(ids)
        if n < batch * seq_len + 1:
            raise ValueError(
                f"{n:,} symbols are fewer than one window of {batch} x {seq_len} (+1) = "
                f"{batch * seq_len + 1:,}"
            )
        self.batch, self.seq_len = batch, seq_len
        L = (n - 1) // batch
        self.x = ids[: batch * L].view(batch, L).t().contiguous()  # (L, B)
        self.y = ids[1 : batch * L + 1].view(batch, L).t().contiguous()  # (L, B)
        self.windows = L // seq_len
        self.position = 0  # windows read in this epoch
        self.epoch = 0

    def __len__(self) -> int:
        """Windows per epoch."""
        return self.windows

    def next(self) -> Window:
        if self.position >= self.windows:
            self.position = 0
            self.epoch += 1
        t = self.position * self.seq_len
        self.position += 1
        return Window(self.x[t : t + self.seq_len], self.y[t : t + self.seq_len], t == 0)

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        position, epoch = int(state["position"]), int(state["epoch"])
        if not 0 <= position <= self.windows:
            raise ValueError(f"window {position} is outside this corpus's {self.windows} windows")
        self.position, self.epoch = position, epoch
