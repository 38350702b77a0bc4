"""A probabilistic RNN forecaster: an encoder over the context window, a decoder over the horizon.

Shapes: ``B`` windows, ``P`` the largest lag (history read before the context), ``C`` context
steps, ``H`` horizon steps, ``F`` known features per step (calendar one-hots and known-future
covariates), ``Cp`` past-only covariates, ``N`` samples, ``Q`` quantile levels. A window is
``y (B, P+C+H)`` with ``feats (B, P+C+H, F)`` and ``past (B, P+C+H, Cp)``.

Two heads, chosen by ``likelihood``:

* ``gaussian`` / ``student-t`` — DeepAR (Salinas, Flunkert, Gasthaus & Januschowski 2020): each
  step reads the lagged target ``y_{t-l}`` for ``l`` in ``lags``, its features and the log of the
  series' scale, and emits the parameters of ``p(y_t)``. Training maximises the likelihood of every
  context and horizon step given the true past (teacher forcing); forecasting draws ``N`` sample
  paths, feeding each drawn value back as the next step's lag (ancestral sampling).
* ``quantile`` — MQ-RNN (Wen, Torkkola, Narayanaswamy & Madeka 2017): the decoder reads only known
  features and the horizon position, and emits all ``Q`` quantiles of every horizon step at once
  (direct multi-horizon), trained with the pinball loss. Quantiles are kept ordered by building
  them as the lowest one plus softplus increments.

Mean scaling (DeepAR §3.3): each window is divided by ``1 + mean |y|`` over its context (the
``1 +`` avoids division by zero) and outputs are multiplied back. The encoder's final state starts
the decoder. The encoder and decoder are any rnnkit (or ``torch.nn``) batch-first recurrent
layers, built by ``make_layer(input_size)``, so every cell and variant works; they must be
unidirectional.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LIKELIHOODS", "QUANTILES", "Forecaster", "ForecasterConfig"]

LIKELIHOODS = ("gaussian", "student-t", "quantile")
QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)  # median and the 50/80/90 % intervals


@dataclass
class ForecasterConfig:
    """What the forecaster's shapes depend on (stored in the run's ``config.json``)."""

    context: int = 24  # steps the encoder reads before the origin
    horizon: int = 12  # steps forecast (the quantile head's fixed length)
    likelihood: str = "gaussian"  # gaussian | student-t | quantile
    lags: list[int] = field(default_factory=lambda: [1])  # lags of the target fed as inputs
    n_calendar: int = 0  # calendar one-hot features per step
    n_known: int = 0  # known-future covariates
    n_past: int = 0  # past-only covariates (the encoder reads them, one step late)

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {', '.join(LIKELIHOODS)}")
        if self.context < 1 or self.horizon < 1 or not self.lags or min(self.lags) < 1:
            raise ValueError("context, horizon and every lag must be positive")

    @property
    def max_lag(self) -> int:
        return max(self.lags)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _map_state(h: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    return tuple(fn(t) for t in h) if isinstance(h, tuple) else fn(h)


class Forecaster(nn.Module):
    """Encoder-decoder forecaster (see the module docstring).

    Args:
        config: shapes and head.
        make_layer: ``input_size -> batch-first recurrent layer``; called twice (encoder, decoder).

    >>> import rnnkit
    >>> cfg = ForecasterConfig(context=6, horizon=3, lags=[1, 2])
    >>> model = Forecaster(cfg, lambda i: rnnkit.GRU(i, 8, batch_first=True))
    >>> y = torch.rand(4, 2 + 6 + 3) + 1
    >>> loss = model.loss(y, torch.zeros(4, 11, 0), torch.zeros(4, 11, 0))
    >>> q = model.predict(y[:, :8], torch.zeros(4, 11, 0), torch.zeros(4, 11, 0), samples=20)
    >>> tuple(q.shape)  # (B, Q, H)
    (4, 7, 3)
    """

    def __init__(self, config: ForecasterConfig, make_layer: Callable[[int], nn.Module]) -> None:
        super().__init__()
        self.config = config
        c = config
        n_feat = c.n_calendar + c.n_known
        self.quantile = c.likelihood == "quantile"
        self.encoder = make_layer(len(c.lags) + n_feat + c.n_past + 1)
        dec_in = n_feat + c.horizon + 1 if self.quantile else len(c.lags) + n_feat + 1
        self.decoder = make_layer(dec_in)
        if getattr(self.encoder, "bidirectional", False):
            raise ValueError("the forecaster's encoder and decoder must be unidirectional")
        with torch.no_grad():
            hidden = self.decoder(torch.zeros(1, 1, dec_in))[0].shape[-1]
        n_out = {"gaussian": 2, "student-t": 3, "quantile": len(QUANTILES)}[c.likelihood]
        self.head = nn.Linear(hidden, n_out)
        # known-covariate standardisation, fitted on training data (saved with the weights)
        self.register_buffer("cov_mean", torch.zeros(c.n_known + c.n_past))
        self.register_buffer("cov_std", torch.ones(c.n_known + c.n_past))

    # ----- pieces -----------------------------------------------------------------------------

    def _window(self, y: Tensor, feats: Tensor, past: Tensor, T: int) -> tuple[Tensor, ...]:
        """What every pass starts from: ``ys = y[:, :T] / scale``, the standardised covariates,
        the scale and its log, on the model's device (windows are cut on the CPU, the model may
        be on a GPU)."""
        dev = self.head.weight.device
        y, feats, past = y.to(dev), feats.to(dev), past.to(dev)
        feats, past = self._inputs(feats, past)
        scale = self._scale(y)
        return y[:, :T] / scale, feats, past, scale, scale.log()

    def _inputs(self, feats: Tensor, past: Tensor) -> tuple[Tensor, Tensor]:
        c = self.config
        cov = torch.cat([feats[..., c.n_calendar :], past], -1)
        cov = (cov - self.cov_mean) / self.cov_std  # type: ignore[operator]
        return torch.cat([feats[..., : c.n_calendar], cov[..., : c.n_known]], -1), cov[
            ..., c.n_known :
        ]

    def _scale(self, y: Tensor) -> Tensor:
        c = self.config
        ctx = y[:, c.max_lag : c.max_lag + c.context]
        return 1.0 + ctx.abs().mean(1, keepdim=True)  # (B, 1)

    def _lags(self, ys: Tensor, start: int, end: int) -> Tensor:
        return torch.stack([ys[:, start - l : end - l] for l in self.config.lags], -1)

    def _encode(self, ys: Tensor, feats: Tensor, past: Tensor, logs: Tensor) -> tuple[Tensor, Any]:
        c, P = self.config, self.config.max_lag
        T = P + c.context
        x = torch.cat(
            [
                self._lags(ys, P, T),  # (B, C, lags)
                feats[:, P:T],
                past[:, P - 1 : T - 1],  # past covariates one step late: known at t
                logs.expand(-1, c.context).unsqueeze(-1),
            ],
            -1,
        )
        return self.encoder(x)

    def _params(self, out: Tensor) -> tuple[Tensor, ...]:
        p = self.head(out)
        if self.quantile:
            inc = F.softplus(p[..., 1:])
            return (torch.cat([p[..., :1], p[..., :1] + inc.cumsum(-1)], -1),)  # (B, T, Q)
        sigma = F.softplus(p[..., 1]) + 1e-4
        if self.config.likelihood == "gaussian":
            return p[..., 0], sigma
        return p[..., 0], sigma, 2.0 + F.softplus(p[..., 2])

    def _dist(self, params: tuple[Tensor, ...]) -> torch.distributions.Distribution:
        if len(params) == 2:
            return torch.distributions.Normal(params[0], params[1])
        return torch.distributions.StudentT(params[2], params[0], params[1])

    def _decoder_known(self, feats: Tensor, logs: Tensor) -> Tensor:
        c, T = self.config, self.config.max_lag + self.config.context
        B, H = feats.shape[0], c.horizon
        pos = torch.eye(H, dtype=feats.dtype, device=feats.device).expand(B, H, H)
        return torch.cat([feats[:, T : T + H], pos, logs.expand(-1, H).unsqueeze(-1)], -1)

    # ----- training ---------------------------------------------------------------------------

    def loss(self, y: Tensor, feats: Tensor, past: Tensor) -> Tensor:
        """Mean negative log-likelihood (or pinball loss) of a window ``y (B, P+C+H)``."""
        c, P = self.config, self.config.max_lag
        T, H = P + c.context, c.horizon
        ys, feats, past, _, logs = self._window(y, feats, past, T + H)
        enc_out, h = self._encode(ys, feats, past, logs)
        if self.quantile:
            dec_out, _ = self.decoder(self._decoder_known(feats, logs), h)
            (q,) = self._params(dec_out)  # (B, H, Q)
            d = ys[:, T : T + H].unsqueeze(-1) - q
            levels = torch.tensor(QUANTILES, dtype=ys.dtype, device=ys.device)
            return torch.maximum(levels * d, (levels - 1) * d).mean() * 2
        x = torch.cat(
            [self._lags(ys, T, T + H), feats[:, T : T + H], logs.expand(-1, H).unsqueeze(-1)], -1
        )
        dec_out, _ = self.decoder(x, h)
        out = torch.cat([enc_out, dec_out], 1)  # (B, C+H, hidden)
        return -self._dist(self._params(out)).log_prob(ys[:, P : T + H]).mean()

    # ----- forecasting ------------------------------------------------------------------------

    @torch.no_grad()
    def sample(
        self, y: Tensor, feats: Tensor, past: Tensor, samples: int = 100, horizon: int | None = None
    ) -> Tensor:
        """Sample paths ``(B, N, H)`` from the context ``y (B, P+C)`` (autoregressive heads), on
        ``y``'s device."""
        if self.quantile:
            raise ValueError("the quantile head gives quantiles, not samples: use predict()")
        c, P = self.config, self.config.max_lag
        T, H = P + c.context, horizon or c.horizon
        B, N = y.shape[0], samples
        origin = y.device
        ys, feats, past, scale, logs = self._window(y, feats, past, T)
        _, h = self._encode(ys, feats, past, logs)
        rep = lambda t: t.repeat_interleave(N, 0)  # noqa: E731  (B, ...) -> (B*N, ...)
        h = _map_state(h, lambda t: t.repeat_interleave(N, 1))
        buf, f, logs_n = rep(ys), rep(feats), rep(logs)
        for k in range(H):
            t = T + k
            lag = torch.stack([buf[:, t - l] for l in c.lags], -1)
            x = torch.cat([lag, f[:, t], logs_n], -1).unsqueeze(1)  # (B*N, 1, I)
            out, h = self.decoder(x, h)
            draw = self._dist(self._params(out[:, 0])).sample()
            buf = torch.cat([buf, draw.unsqueeze(1)], 1)
        return (buf[:, T:] * rep(scale)).view(B, N, H).to(origin)

    @torch.no_grad()
    def predict(
        self, y: Tensor, feats: Tensor, past: Tensor, samples: int = 200, horizon: int | None = None
    ) -> Tensor:
        """Quantiles ``(B, Q, H)`` at :data:`QUANTILES` from the context ``y (B, P+C)``, on
        ``y``'s device."""
        levels = torch.tensor(QUANTILES, dtype=y.dtype, device=y.device)
        if not self.quantile:
            return torch.quantile(
                self.sample(y, feats, past, samples, horizon), levels, dim=1
            ).permute(1, 0, 2)
        c, T = self.config, self.config.max_lag + self.config.context
        if horizon not in (None, c.horizon):
            raise ValueError(f"the quantile head forecasts exactly {c.horizon} steps")
        origin = y.device
        ys, feats, past, scale, logs = self._window(y, feats, past, T)
        _, h = self._encode(ys, feats, past, logs)
        dec_out, _ = self.decoder(self._decoder_known(feats, logs), h)
        (q,) = self._params(dec_out)
        return (q * scale.unsqueeze(-1)).transpose(1, 2).to(origin)
