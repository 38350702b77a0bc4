"""Shared test helpers: torch.nn twins with the same weights and their comparison, the one-line
CLI error check, a small word corpus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from rnnkit.cli import main


def tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-10, "rtol": 1e-10}
    )


def flatten_out(out: Any) -> list[Tensor]:
    """All tensors in a (nested) layer result, PackedSequences by their data."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, nn.utils.rnn.PackedSequence):
        return [out.data]
    return [t for o in out for t in flatten_out(o)]


def weighted_sum(tensors: Sequence[Tensor], seed: int = 0) -> Tensor:
    """A scalar that depends on every element differently (so gradients are not symmetric)."""
    g = torch.Generator().manual_seed(seed)
    total = tensors[0].new_zeros(())
    for t in tensors:
        total = total + (t * torch.randn(t.shape, generator=g, dtype=t.dtype)).sum()
    return total


def grads_of(module: nn.Module, inputs: Sequence[Tensor], out: Any) -> dict[str, Tensor]:
    loss = weighted_sum(flatten_out(out))
    params = dict(module.named_parameters())
    tensors = list(params.values()) + list(inputs)
    grads = torch.autograd.grad(loss, tensors, allow_unused=True, retain_graph=True)
    names = list(params) + [f"input{i}" for i in range(len(inputs))]
    return {n: g for n, g in zip(names, grads, strict=True) if g is not None}


def assert_same(a: Any, b: Any, dtype: torch.dtype) -> None:
    fa, fb = flatten_out(a), flatten_out(b)
    assert len(fa) == len(fb)
    for x, y in zip(fa, fb, strict=True):
        assert x.shape == y.shape
        torch.testing.assert_close(x, y, **tol(dtype))


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
