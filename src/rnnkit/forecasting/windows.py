"""Windows cut from series for the forecaster: the per-series arrays, and batches of origins.

An *origin* ``o`` of a series is the index of the first forecast step: the window is
``values[o - P - C : o + H]`` (``P`` the largest lag, ``C`` the context, ``H`` the horizon).
Features per step are the calendar one-hots of its time stamp and the known-future covariates;
past-only covariates go in a separate array. Steps past the end of a series get calendar
features (their stamps are known) but need their known-future covariates supplied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..data.series import SeriesSet
from ..data.series_time import calendar_features
from ..errors import UserError
from ..models.forecaster import ForecasterConfig

__all__ = ["SeriesArrays", "Windows", "make_arrays", "n_calendar"]


def n_calendar(freq: str) -> int:
    """Calendar features per step at ``freq``."""
    return calendar_features(np.zeros(1, dtype=np.int64), freq).shape[1]


@dataclass
class SeriesArrays:
    """One series as the forecaster reads it; ``feats`` may run ``extra`` steps past ``y``."""

    name: str
    y: np.ndarray  # (n,)
    feats: np.ndarray  # (n + extra, F) calendar + known covariates
    past: np.ndarray  # (n + extra, Cp) past covariates (zeros past the end: never read there)
    start: int  # grid position of y[0]


def make_arrays(
    data: SeriesSet,
    known: list[str],
    extra: int = 0,
    future_known: list[np.ndarray] | None = None,
) -> list[SeriesArrays]:
    """Arrays of every series of ``data``; ``known`` names the known-future covariates.

    Args:
        extra: steps after the end that forecasting will read features for.
        future_known: per series ``(extra, len(known))`` values of the known covariates after the
            end; needed when ``extra > 0`` and ``known`` is not empty.
    """
    names = data.covariate_names
    for k in known:
        if k not in names:
            raise UserError(
                f"known covariate {k!r} is not among the covariates ({', '.join(names)})"
            )
    ki = [names.index(k) for k in known]
    pi = [i for i in range(len(names)) if i not in ki]
    if extra and ki and future_known is None:
        raise UserError(
            f"forecasting {extra} steps past the end needs the future values of the known "
            f"covariates {', '.join(known)}"
        )
    out = []
    for j, s in enumerate(data.series):
        n = len(s)
        cal = calendar_features(np.arange(s.start, s.start + n + extra), data.freq)
        cov = s.covariates[:, ki]
        if extra and ki:
            assert future_known is not None
            fut = np.asarray(future_known[j], dtype=np.float64)
            if fut.shape != (extra, len(ki)):
                raise UserError(
                    f"series {s.name!r}: future covariates must be {extra} rows of {len(ki)}"
                )
            cov = np.concatenate([cov, fut])
        elif extra:
            cov = np.zeros((n + extra, 0))
        past = np.concatenate([s.covariates[:, pi], np.zeros((extra, len(pi)))])
        out.append(SeriesArrays(s.name, s.values, np.concatenate([cal, cov], 1), past, s.start))
    return out


class Windows:
    """Cut batches of windows ``(series index, origin)`` out of :class:`SeriesArrays`."""

    def __init__(self, arrays: list[SeriesArrays], config: ForecasterConfig) -> None:
        self.arrays = arrays
        self.config = config

    @property
    def back(self) -> int:
        """Steps read before an origin: the largest lag plus the context."""
        return self.config.max_lag + self.config.context

    def origins(self, i: int, first: int, last: int, stride: int = 1) -> list[tuple[int, int]]:
        """Origins ``first, first + stride, ... <= last`` of series ``i`` that have a full context."""
        lo = max(first, self.back)
        return [(i, o) for o in range(lo, last + 1, stride)]

    def batch(
        self, pairs: list[tuple[int, int]], horizon: int | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(y (B, P+C+H), feats (B, P+C+H, F), past (B, P+C+H, Cp))`` as float32 tensors.

        ``y`` past the end of a series is 0 (forecasting reads only its first ``P+C`` steps).
        """
        H = horizon or self.config.horizon
        L = self.back + H
        ys, fs, ps = [], [], []
        for i, o in pairs:
            a = self.arrays[i]
            lo = o - self.back
            y = a.y[lo : lo + L]
            ys.append(np.concatenate([y, np.zeros(L - len(y))]))
            f = a.feats[lo : lo + L]
            if len(f) < L:
                raise UserError(
                    f"series {a.name!r}: no features for {L - len(f)} steps past the end"
                )
            fs.append(f)
            ps.append(a.past[lo : lo + L] if len(a.past) >= lo + L else
                      np.concatenate([a.past[lo:], np.zeros((L - len(a.past[lo:]), a.past.shape[1]))]))  # fmt: skip
        as_t = lambda v: torch.from_numpy(np.stack(v)).float()  # noqa: E731
        return as_t(ys), as_t(fs), as_t(ps)
