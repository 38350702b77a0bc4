"""Sampling: the top-k and top-p masks, temperature, seeds, banned symbols."""

from __future__ import annotations

import pytest
import torch

from rnnkit.sampling import Sampler, sample_logits, top_k_mask, top_p_mask


@pytest.mark.parametrize("k", [1, 2, 5, 9, 10, 0])
def test_top_k_mask_keeps_the_k_largest(k: int) -> None:
    logits = torch.randn(3, 10, generator=torch.Generator().manual_seed(k))
    mask = top_k_mask(logits, k)
    kept = k if 0 < k < 10 else 10
    assert mask.sum(-1).tolist() == [kept] * 3
    for row, m in zip(logits, mask, strict=True):
        assert set(row.argsort(descending=True)[:kept].tolist()) == set(
            m.nonzero().flatten().tolist()
        )


def test_top_k_keeps_ties() -> None:
    assert top_k_mask(torch.tensor([1.0, 2.0, 2.0, 0.0]), 1).tolist() == [False, True, True, False]


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9, 0.999, 1.0])
def test_top_p_mask_is_the_smallest_nucleus(p: float) -> None:
    logits = torch.randn(5, 12, generator=torch.Generator().manual_seed(1))
    mask = top_p_mask(logits, p)
    for row, m in zip(logits, mask, strict=True):
        probs = row.softmax(-1)
        order = probs.argsort(descending=True)
        # brute force: the shortest prefix of the sorted probabilities reaching p
        n = (
            next(i + 1 for i in range(12) if probs[order[: i + 1]].sum() >= p - 1e-7)
            if p < 1
            else 12
        )
        assert set(m.nonzero().flatten().tolist()) == set(order[:n].tolist())


def test_temperature_zero_is_greedy_and_banned_is_never_drawn() -> None:
    logits = torch.tensor([5.0, 1.0, 0.0])
    assert int(sample_logits(logits, temperature=0)) == 0
    assert int(sample_logits(logits, temperature=0, banned=[0])) == 1
    g = torch.Generator().manual_seed(0)
    draws = {int(sample_logits(logits, 2.0, generator=g, banned=[0])) for _ in range(200)}
    assert draws == {1, 2}


def test_top_k_one_samples_the_argmax() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([0.1, 0.3, 0.2])
    assert {int(sample_logits(logits, 1.5, top_k=1, generator=g)) for _ in range(50)} == {1}


def test_sampling_frequencies_follow_the_distribution() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([0.0, 1.0]).log_softmax(-1).expand(4000, 2)
    rows = sample_logits(logits, 1.0, generator=g)
    assert rows.shape == (4000,)
    share = rows.float().mean().item()  # P(1) = e / (1 + e) = 0.731
    assert abs(share - 0.731) < 0.03


def test_sampler_seed_reproduces_and_differs() -> None:
    logits = torch.randn(30)

    def draw(seed: int) -> list[int]:
        s = Sampler(temperature=1.0, top_p=0.95, seed=seed)
        return [s(logits) for _ in range(40)]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": -2}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
    ],
)
def test_sampler_refuses_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Sampler(**kwargs)  # type: ignore[arg-type]


def test_extreme_temperatures_and_seeds_are_handled() -> None:
    from rnnkit.sampling import Sampler

    logits = torch.tensor([1.0, 2.0, 3.0, 0.5])
    assert Sampler(temperature=1e-40, seed=1)(logits) == 2  # a one-hot distribution, not NaN
    for bad in ({"temperature": float("inf")}, {"temperature": float("nan")}, {"seed": 2**64}):
        with pytest.raises(ValueError):
            Sampler(**bad)  # type: ignore[arg-type]
