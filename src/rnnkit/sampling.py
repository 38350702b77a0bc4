"""Choosing the next symbol from a model's logits: temperature, top-k and nucleus (top-p).

Applied in that order, as is usual (and as Hugging Face's generation does):

* temperature ``τ``: ``softmax(logits / τ)``; ``τ < 1`` sharpens, ``τ > 1`` flattens, and
  ``τ = 0`` means greedy (always the most likely symbol);
* top-k (Fan et al. 2018): keep the ``k`` most likely symbols (ties with the k-th are kept too);
* top-p (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"): keep the smallest
  set of most likely symbols whose probability adds up to at least ``p``.

Sampling draws from a :class:`torch.Generator`, so a seed gives the same text every time.
Shape letters: ``V`` vocabulary, ``B`` rows.

>>> logits = torch.tensor([2.0, 1.0, 0.5, -1.0])
>>> top_k_mask(logits, 2).tolist()
[True, True, False, False]
>>> top_p_mask(logits, 0.7).tolist()   # probabilities 0.61, 0.22, 0.14, 0.03
[True, True, False, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["Sampler", "sample_logits", "top_k_mask", "top_p_mask"]


def top_k_mask(logits: Tensor, k: int) -> Tensor:
    """True for the ``k`` largest logits of each row (and any tied with the k-th); ``k=0``: all."""
    if k <= 0 or k >= logits.shape[-1]:
        return torch.ones_like(logits, dtype=torch.bool)
    kth = logits.topk(k, dim=-1).values[..., -1:]  # (..., 1)
    return logits >= kth


def top_p_mask(logits: Tensor, p: float) -> Tensor:
    """True for the smallest set of most likely symbols with total probability ``>= p``.

    The most likely symbol is always kept; ``p >= 1`` keeps everything.
    """
    if p >= 1:
        return torch.ones_like(logits, dtype=torch.bool)
    probs, order = logits.softmax(-1).sort(dim=-1, descending=True)  # (..., V)
    before = probs.cumsum(-1) - probs  # probability of the more likely symbols
    keep_sorted = before < p
    keep_sorted[..., 0] = True
    return torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)


def sample_logits(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    banned: Sequence[int] = (),
) -> Tensor:
    """Draw one symbol per row of ``logits (V,)`` or ``(B, V)``; returns ``()`` or ``(B,)`` int64.

    ``banned`` symbols (e.g. ``<unk>``) are never drawn (unless nothing else is left).
    """
    x = logits.detach().float()
    if banned:
        ok = torch.ones(x.shape[-1], dtype=torch.bool, device=x.device)
        ok[list(banned)] = False
        if bool(ok.any()):
            x = x.masked_fill(~ok, float("-inf"))
    if temperature == 0:
        return x.argmax(-1)
    # Shift by the row maximum first: the largest score becomes 0, so a tiny temperature gives
    # 0 and -inf (a one-hot distribution) rather than inf - inf = NaN.
    x = (x - x.amax(-1, keepdim=True)) / temperature
    x = x.masked_fill(~top_k_mask(x, top_k), float("-inf"))
    x = x.masked_fill(~top_p_mask(x, top_p), float("-inf"))
    probs = x.softmax(-1)
    flat = probs.reshape(-1, probs.shape[-1])  # (B, V)
    drawn = torch.multinomial(flat, 1, generator=generator).squeeze(-1)  # (B,)
    return drawn.reshape(probs.shape[:-1])


@dataclass
class Sampler:
    """A seeded sampling policy: ``sampler(logits (V,)) -> int``.

    >>> s = Sampler(temperature=0.8, top_k=3, seed=1)
    >>> a = [s(torch.tensor([1.0, 2.0, 3.0, 0.0])) for _ in range(5)]
    >>> s.reset(); a == [s(torch.tensor([1.0, 2.0, 3.0, 0.0])) for _ in range(5)]
    True
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    banned: Sequence[int] = ()
    generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.temperature < float("inf"):
            raise ValueError(
                f"temperature must be 0 (greedy) or a finite positive number, got {self.temperature}"
            )
        if not 0 <= self.seed < 2**64:
            raise ValueError(f"seed must be in [0, 2**64), got {self.seed}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be 0 (off) or more, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        self.reset()

    def reset(self) -> None:
        """Start the random stream again from the seed."""
        self.generator = torch.Generator().manual_seed(self.seed)

    def __call__(self, logits: Tensor) -> int:
        return int(
            sample_logits(
                logits.cpu(), self.temperature, self.top_k, self.top_p, self.generator, self.banned
            )
        )
