"""How a sequence model's state and prediction evolve, step by step, over one input.

For a classify or regress run, the prediction at step ``t`` is the head applied to what the
pooling would give if the sequence ended at ``t``: the output at ``t`` (``last``; a bidirectional
layer's backward half is its output at step 0, which has read the whole input), the running mean
(``mean``) or running maximum (``max``) of the outputs so far. A tag run predicts at every step
already. ``rnnkit inspect RUN --input DATA`` draws the first inputs (:func:`inspect_sequences`).

Shape letters: ``T`` steps, ``H`` hidden units, ``C`` classes or tags, ``D`` directions.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import UserError
from .layers import RecurrentLayer
from .models import SequenceClassifier, SequenceRegressor, SequenceTagger
from .models.classifier import pool_last
from .runs import atomic_write
from .tasks.inputs import load_for_eval
from .tasks.run import TrainedRun

__all__ = ["ROWS", "SequenceTrace", "inspect_sequences", "trace_sequence"]

ROWS = 3  # inputs shown


@dataclass
class SequenceTrace:
    """One input through a sequence model.

    Attributes:
        hidden: ``(T, H)`` the last layer's output after each step (both directions side by
            side for a bidirectional layer).
        prediction: ``(T, C)`` probabilities, or ``(T,)`` values in the data's units.
    """

    hidden: np.ndarray
    prediction: np.ndarray


def _prefix_pool(out: Tensor, pooling: str, D: int) -> Tensor:
    """``out (T, D*O)`` -> what the pooling gives at each prefix, ``(T, D*O)``."""
    if pooling == "mean":
        return out.cumsum(0) / torch.arange(1, len(out) + 1, dtype=out.dtype)[:, None]
    if pooling == "max":
        return out.cummax(0).values
    T = len(out)
    return torch.cat([pool_last(out[None], torch.tensor([t + 1]), D) for t in range(T)])


@torch.no_grad()
def trace_sequence(
    model: torch.nn.Module,
    x: Tensor,
    *,
    pooling: str = "last",
    target: tuple[float, float] = (0.0, 1.0),
) -> SequenceTrace:
    """Run one input ``x (T,)`` ids or ``(T, F)`` features through a sequence model.

    Args:
        pooling: the run's pooling (classify, regress).
        target: ``(mean, std)`` of a regression target, to give values in the data's units.

    >>> import rnnkit
    >>> m = SequenceClassifier(rnnkit.LSTM(2, 4, batch_first=True), 3)
    >>> tr = trace_sequence(m, torch.randn(5, 2))
    >>> tr.hidden.shape, tr.prediction.shape, bool(abs(tr.prediction.sum(1) - 1).max() < 1e-5)
    ((5, 4), (5, 3), True)
    """
    assert isinstance(model, (SequenceClassifier, SequenceTagger))
    enc = model.encoder
    layer = enc.layer
    if not isinstance(layer, RecurrentLayer):
        raise UserError(f"inspect: a {type(layer).__name__} layer is not supported")
    was = model.training
    model.eval()
    try:
        xb = x[None].to(model.head.weight.device)  # (1, T, ...)
        e = enc.embedding(xb) if enc.embedding is not None else xb
        e = e if layer.batch_first else e.transpose(0, 1)
        out, _ = layer(e)
        out = out[0] if layer.batch_first else out[:, 0]  # (T, D*O)
        if isinstance(model, SequenceTagger):
            pred = model.head(out).softmax(-1)  # (T, C)
        else:
            logits = model.head(_prefix_pool(out, pooling, enc.num_directions))
            if isinstance(model, SequenceRegressor):
                pred = logits[:, 0] * target[1] + target[0]  # (T,)
            else:
                pred = logits.softmax(-1)  # (T, C)
    finally:
        model.train(was)
    return SequenceTrace(out.float().cpu().numpy(), pred.double().cpu().numpy())


def _png_tag(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def inspect_sequences(trained: TrainedRun, data: str, out: Path, png: Path | None) -> int:
    """Draw the first :data:`ROWS` inputs of ``data`` (PNGs in ``png``, all on the page ``out``)."""
    import tempfile

    from .tasks.sequence import SequenceSpec
    from .viz.inspect_png import plot_sequence

    spec = trained.spec
    assert isinstance(spec, SequenceSpec)
    scorer = spec.scorer(trained.config, trained.artifacts)
    loaded = load_for_eval(data, scorer.data_cfg, scorer.enc, labelled=False, policy="skip")
    rows = min(ROWS, len(loaded.data))
    if rows == 0:
        raise UserError(f"--input {data}: no sequences to show")
    enc, kind = scorer.enc, trained.config.task
    labels = None if enc.labels is None else list(enc.labels.names)
    pieces = []
    with tempfile.TemporaryDirectory() as tmp:
        where = png if png is not None else Path(tmp)
        for n in range(rows):
            T = int(loaded.data.lengths[n])
            x = torch.from_numpy(np.asarray(loaded.data.x[n][:T]))
            tr = trace_sequence(
                trained.model,
                x,
                pooling=trained.config.model.pooling,
                target=(enc.target_mean, enc.target_std),
            )
            tokens = loaded.tokens[n] if loaded.tokens is not None else None
            name = loaded.data.names[n]
            path = where / f"sequence-{n}.png"
            if tr.prediction.ndim == 1:
                last = f"predicted value {tr.prediction[-1]:.4g}"
            else:
                assert labels is not None
                last = f"predicted {labels[int(tr.prediction[-1].argmax())]}"
                last += f" ({tr.prediction[-1].max():.0%})" if kind != "tag" else " at the end"
            title = f"{kind} run {trained.path.name}, {name}: {T} steps, {last}"
            plot_sequence(tr.hidden, tr.prediction, path, labels=labels, tokens=tokens,
                          title=title)  # fmt: skip
            pieces.append(f"<h2>{html.escape(title)}</h2>{_png_tag(path)}")
            print(f"  {title}" + (f": {path}" if png is not None else ""))
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>rnnkit inspect "
        f"{html.escape(str(trained.path))}</title><style>body{{font:14px system-ui,sans-serif;"
        f"margin:16px}}img{{max-width:100%}}</style></head><body><h1>rnnkit inspect "
        f"{html.escape(str(trained.path))}</h1><p>The last layer's hidden state (top: units x "
        f"steps) and the prediction as if the input ended at each step (bottom), for the first "
        f"{rows} input(s) of {html.escape(data)}.</p>{''.join(pieces)}</body></html>\n"
    )

    def write(tmp: Path) -> None:
        tmp.write_text(page, encoding="utf-8")

    atomic_write(out, write)
    print(f"page: {out}")
    return 0
