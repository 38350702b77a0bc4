"""Scores for sequence tasks, in plain NumPy: accuracy, macro-F1, the confusion matrix, MSE and MAE.

Macro-F1 averages the per-class F1 over the classes that occur in the targets or the predictions
(a class that never occurs in either has no F1; scikit-learn's ``f1_score(average="macro")``
averages over the same set). A class that is predicted but never true, or true but never
predicted, scores F1 = 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "macro_f1",
    "mae",
    "mse",
    "per_class_f1",
]


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in size: {t.shape} vs {p.shape}")
    return t, p


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal entries (``nan`` when empty).

    >>> accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 2]))
    0.75
    """
    t, p = _check(y_true, y_pred)
    return float((t == p).mean()) if t.size else float("nan")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` counts: row = true class, column = predicted class.

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    t, p = _check(y_true, y_pred)
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (t.astype(np.int64), p.astype(np.int64)), 1)
    return m


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    """Per-class F1 from a confusion matrix; ``nan`` for a class neither true nor predicted."""
    tp = np.diag(cm).astype(np.float64)
    true = cm.sum(axis=1)
    pred = cm.sum(axis=0)
    denom = true + pred  # 2 tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Unweighted mean of the per-class F1 over classes that occur.

    >>> round(macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 3), 4)  # (2/3 + 4/5) / 2
    0.7333
    """
    f1 = per_class_f1(confusion_matrix(y_true, y_pred, num_classes))
    present = ~np.isnan(f1)
    return float(f1[present].mean()) if present.any() else float("nan")


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error.

    >>> mse(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
    2.0
    """
    t, p = _check(y_true, y_pred)
    return float(np.mean((t.astype(np.float64) - p) ** 2)) if t.size else float("nan")


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    t, p = _check(y_true, y_pred)
    return float(np.mean(np.abs(t.astype(np.float64) - p))) if t.size else float("nan")


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, names: list[str]
) -> dict[str, object]:
    """Accuracy, macro-F1, per-class F1 and the confusion matrix, as a JSON-ready dictionary."""
    cm = confusion_matrix(y_true, y_pred, len(names))
    f1 = per_class_f1(cm)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred, len(names)),
        "f1": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, f1, strict=True)},
        "confusion": cm.tolist(),
        "labels": list(names),
        "count": int(np.asarray(y_true).size),
    }


def is_bio(tags: Sequence[str]) -> bool:
    """True when every tag is ``O`` or ``B-X``/``I-X`` (the IOB2 scheme of CoNLL NER files)."""
    return any(t != "O" for t in tags) and all(t == "O" or t[:2] in ("B-", "I-") for t in tags)


def bio_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entities ``(type, start, end)`` (end exclusive) in a BIO tag sequence.

    An ``I-X`` that does not continue an ``X`` entity starts one (conlleval's lenient reading).

    >>> sorted(bio_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"]))
    [('LOC', 3, 4), ('LOC', 4, 5), ('PER', 0, 2)]
    """
    spans, kind, start = set(), None, 0
    for t, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        if kind is not None and (prefix != "I" or name != kind):
            spans.add((kind, start, t))
            kind = None
        if prefix == "B" or (prefix == "I" and kind is None):
            kind, start = name, t
    return spans


def entity_f1(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 over exact entity matches (Tjong Kim Sang & De Meulder 2003).

    >>> entity_f1([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])["entity_f1"]
    0.0
    """
    tp = n_true = n_pred = 0
    for t, p in zip(true, pred, strict=True):
        st, sp = bio_spans(t), bio_spans(p)
        tp, n_true, n_pred = tp + len(st & sp), n_true + len(st), n_pred + len(sp)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"entity_precision": precision, "entity_recall": recall, "entity_f1": f1}
