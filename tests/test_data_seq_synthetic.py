"""Synthetic tasks' statistics, the digits sets, and the metrics against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.data.synthetic import (
    COPY_TAGS,
    adding,
    adding_baseline_mse,
    copy_baseline_xent,
    copy_memory,
    dinner,
)
from rnnkit.metrics import accuracy, confusion_matrix, macro_f1, mse


def test_adding_statistics() -> None:
    X, y = adding(20_000, 100, np.random.default_rng(0))
    markers = X[..., 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :50].sum(1) == 1).all() and (
        markers[:, 50:].sum(1) == 1
    ).all()  # one per half
    assert X[..., 0].min() >= 0 and X[..., 0].max() < 1
    # predicting the mean scores the variance of u1 + u2 = 2/12; measured, not assumed
    measured = mse(y, np.full_like(y, y.mean()))
    assert adding_baseline_mse() == pytest.approx(1 / 6)
    assert measured == pytest.approx(adding_baseline_mse(), abs=0.006)  # ~4 standard errors
    assert y.mean() == pytest.approx(1.0, abs=0.01)


def test_copy_memory_layout_and_baseline() -> None:
    X, tags = copy_memory(500, 30, np.random.default_rng(1))
    assert X.shape == (500, 50, 10) and tags.shape == (500, 50)
    symbols = X[:, :10].argmax(-1)
    assert ((symbols >= 1) & (symbols <= 8)).all()
    assert (X[:, 39].argmax(-1) == 9).all()  # the delimiter, 10 steps before the end
    assert (tags[:, :40] == 0).all() and (tags[:, 40:] == symbols).all()
    # the memoryless strategy: blanks (free) then a uniform guess over 8 symbols on the last 10 steps
    uniform = np.full((500, 50, len(COPY_TAGS)), 0.0)
    uniform[:, :40, 0] = 1.0
    uniform[:, 40:, 1:] = 1 / 8
    p = np.take_along_axis(uniform, tags[..., None], -1)[..., 0]
    assert -np.log(p).mean() == pytest.approx(copy_baseline_xent(30))
    assert copy_baseline_xent(30) == pytest.approx(10 * math.log(8) / 50)


def test_dinner_rule_and_balance() -> None:
    X, tags = dinner(3000, 10, np.random.default_rng(2))
    first = X[:, 0, :3].argmax(-1)
    rainy = X[:, 1:, 4].astype(int)
    assert (X[:, 1:, 3] + X[:, 1:, 4] == 1).all() and (X[:, 0, 3:] == 0).all()
    expected = (first[:, None] + np.concatenate([np.zeros((3000, 1), int), rainy.cumsum(1)], 1)) % 3
    assert (tags == expected).all()
    share = np.bincount(tags[:, -1], minlength=3) / 3000  # the last dish: close to uniform
    assert np.abs(share - 1 / 3).max() < 0.04


def test_digits_sets() -> None:
    pytest.importorskip("sklearn")
    from rnnkit.data.digits import digits_sequences, digits_split

    X, y = digits_sequences("pixels")
    assert X.shape == (1797, 64, 1) and X.min() == 0 and X.max() == 1
    rows, _ = digits_sequences("rows")
    assert rows.shape == (1797, 8, 8)
    np.testing.assert_array_equal(rows.reshape(1797, 64), X[..., 0])  # the same pixels, re-cut
    train, val, test = digits_split(len(X))
    assert len(set(train) | set(val) | set(test)) == 1797
    assert sorted(np.bincount(y[test], minlength=10))[0] > 20  # every digit is in the test set


def test_metrics_match_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    t = rng.integers(0, 5, 300)
    p = np.where(rng.random(300) < 0.6, t, rng.integers(0, 4, 300))  # class 4 is never predicted
    assert accuracy(t, p) == pytest.approx(metrics.accuracy_score(t, p))
    assert macro_f1(t, p, 6) == pytest.approx(
        metrics.f1_score(t, p, average="macro", zero_division=0)
    )
    np.testing.assert_array_equal(
        confusion_matrix(t, p, 5), metrics.confusion_matrix(t, p, labels=range(5))
    )


def test_entity_f1_by_hand() -> None:
    from rnnkit.metrics import entity_f1, is_bio

    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]  # 2 of 3 entities right, 3 guessed
    scores = entity_f1(true, pred)
    assert scores["entity_precision"] == pytest.approx(2 / 3) and scores[
        "entity_recall"
    ] == pytest.approx(2 / 3)
    assert scores["entity_f1"] == pytest.approx(2 / 3)
    assert is_bio(["O", "B-PER", "I-PER"]) and not is_bio(["NOUN", "VERB"]) and not is_bio(["O"])
