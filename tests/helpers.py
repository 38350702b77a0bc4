"""Helpers shared by the test files (``from helpers import ...``; pytest puts tests/ on the path)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.cli import main


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI expecting exit code 2 and one line ``rnnkit: error: ...``; return the line."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error: ") and "\n" not in err
    return err


def word_corpus(path: Path) -> Path:
    """600 seeded words from a ten-word vocabulary, written to ``path``."""
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"]
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(len(words), (600,), generator=g).tolist()
    path.write_text(" ".join(words[i] for i in idx), encoding="utf-8")
    return path
