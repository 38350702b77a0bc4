"""Tagged sequences from CoNLL-style files: one token per line, a blank line between sequences.

Each line holds whitespace-separated fields: the token first and the tag last (``EU B-ORG``), so
both the two-column form and CoNLL-2003's four columns (``EU NNP B-NP B-ORG``; Tjong Kim Sang &
De Meulder 2003) read as they are. Every line must have as many fields as the first one. A file
to tag may hold tokens alone, one field per line. ``-DOCSTART-`` lines are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

__all__ = ["TaggedRecords", "read_conll"]


@dataclass
class TaggedRecords:
    """Token sequences, their tags (``None`` for tokens alone) and the line each starts on."""

    source: str
    tokens: list[list[str]]
    tags: list[list[str]] | None
    where: list[str]


def read_conll(path: str | Path, require_tags: bool = True) -> TaggedRecords:
    """Read a CoNLL-style file.

    Args:
        require_tags: a file of tokens alone (one field per line) is an error when ``True``.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.conll"
    >>> _ = p.write_text("EU B-ORG\\nrejects O\\n\\nPeter B-PER\\n")
    >>> r = read_conll(p)
    >>> r.tokens, r.tags, r.where
    ([['EU', 'rejects'], ['Peter']], [['B-ORG', 'O'], ['B-PER']], ['line 1', 'line 4'])
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    width = 0  # fields per line, set by the first token line
    first = 0
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    where: list[str] = []
    toks: list[str] = []
    tgs: list[str] = []
    for k, line in enumerate([*lines, ""], start=1):
        fields = line.split()
        if fields and fields[0] == "-DOCSTART-":
            continue
        if not fields:
            if toks:
                tokens.append(toks)
                tags.append(tgs)
                toks, tgs = [], []
            continue
        if not width:
            width, first = len(fields), k
            if require_tags and width < 2:
                raise UserError(f"{path} line {k}: 1 field, expected a token and a tag")
        if len(fields) != width:
            what = "token" if width == 1 else "token ... tag"
            raise UserError(
                f"{path} line {k}: {len(fields)} fields, expected {width} ({what}) "
                f"as on line {first}"
            )
        if not toks:
            where.append(f"line {k}")
        toks.append(fields[0])
        tgs.append(fields[-1])
    if not tokens:
        raise UserError(
            f"{path}: no sequences (expected token and tag per line, blank lines between)"
        )
    return TaggedRecords(str(path), tokens, tags if width >= 2 else None, where)
