"""Gradient flow through time: ‖∂L/∂h_t‖ against the distance from the loss, per cell.

The vanishing gradient of the classic texts, measured: back-propagated through a tanh Elman RNN,
the gradient of the loss with respect to the hidden state shrinks roughly geometrically with
every step it travels back (Bengio, Simard & Frasconi 1994; Hochreiter 1991; Pascanu, Mikolov &
Bengio 2013), while the LSTM's additive cell state lets it pass (Hochreiter & Schmidhuber 1997).

:func:`gradient_norms` measures it on one batch of a sequence model (classify, regress, tag):
the gradient of the task's loss with respect to the top layer's output ``h_t`` at every step,
its norm averaged over rows, indexed by the distance ``d = length - 1 - t`` from the row's last
step (where a many-to-one model reads its prediction). :func:`compare_gradients` does it for
the runs of ``rnnkit compare --gradients``, at initialisation (the same seed rebuilds the same
weights) and after training, on the task's test set.

Shape letters: ``B`` rows, ``T`` steps, ``O`` layer output units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .data.batching import Batch
from .layers import RecurrentLayer

__all__ = ["GRADIENT_ROWS", "compare_gradients", "gradient_norms"]

GRADIENT_ROWS = 64  # test rows the gradient is averaged over
RATIO_DISTANCE = 20  # the ratio reported: norm at distance 0 over the norm this far back


def gradient_norms(
    model: nn.Module, batch: Batch, loss: Callable[[nn.Module, Batch], tuple[Tensor, int]]
) -> np.ndarray:
    """Mean over rows of ‖∂L/∂h_t‖ at each distance ``d`` from the row's last step, ``(T,)``.

    Args:
        model: a sequence model whose recurrent layer is ``model.encoder.layer``.
        loss: ``(model, batch) -> (loss, count)``, e.g. a task's ``loss`` method.

    The model runs in eval mode (no dropout); its parameter gradients are left as they were.

    >>> import rnnkit
    >>> from rnnkit.models import SequenceRegressor
    >>> m = SequenceRegressor(rnnkit.RNN(1, 8, batch_first=True))
    >>> b = Batch(torch.randn(4, 6, 1), torch.tensor([6, 6, 6, 6]), torch.zeros(4))
    >>> mse = lambda model, b: (((model(b.x, b.lengths) - b.y) ** 2).mean(), 4)
    >>> g = gradient_norms(m, b, mse)
    >>> g.shape, bool(g[0] > g[-1] > 0)
    ((6,), True)
    """
    layer = model.encoder.layer  # type: ignore[union-attr]
    if not isinstance(layer, RecurrentLayer) or layer.bidirectional:
        raise ValueError("gradient_norms: needs a unidirectional rnnkit layer")
    steps: list[Tensor] = []

    def unrolled(module: nn.Module, inputs: Any, output: Any) -> Any:
        """The layer's output again, one cell step at a time, so each ``h_t`` is a node of the
        graph whose gradient is the total derivative ∂L/∂h_t (a kernel keeps them inside)."""
        x = inputs[0].transpose(0, 1) if layer.batch_first else inputs[0]  # (T, B, I)
        for n, cell in enumerate(layer.cells):
            w = layer.weights(n, 0)
            state = tuple(x.new_zeros(x.shape[1], size) for size in cell.state_sizes)
            steps.clear()
            for t in range(x.shape[0]):
                state = cell.step(x[t], state, w, None)
                steps.append(state[0])  # (B, O)
            x = torch.stack(steps)  # (T, B, O)
        for h in steps:
            h.retain_grad()
        return (x.transpose(0, 1) if layer.batch_first else x, *output[1:])

    was = model.training
    model.eval()
    saved = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    handle = layer.register_forward_hook(unrolled)
    try:
        with torch.enable_grad():
            value, _ = loss(model, batch)
            value.backward()
    finally:
        handle.remove()
        model.train(was)
        for p, g in zip(model.parameters(), saved, strict=True):
            p.grad = g
    norms = (
        torch.stack([h.grad if h.grad is not None else torch.zeros_like(h) for h in steps], dim=1)
        .detach()
        .double()
        .norm(dim=-1)
    )  # (B, T)
    lengths = batch.lengths.tolist()
    T = max(lengths)
    total, count = np.zeros(T), np.zeros(T)
    for b, n in enumerate(lengths):
        total[:n] += norms[b, :n].flip(0).numpy()  # distance d = n - 1 - t
        count[:n] += 1
    return total / np.maximum(count, 1)


def _ratio(norms: Sequence[float]) -> tuple[int, float | None]:
    """``(d, norm_0 / norm_d)`` with ``d`` = 20 or the longest distance; ``None`` if 0."""
    d = min(RATIO_DISTANCE, len(norms) - 1)
    far = norms[d]
    return d, (norms[0] / far if far > 0 else None)


def _flows(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One compare run's gradient norms at initialisation and after training."""
    from .tasks import TASKS, open_run, read_run_config
    from .tasks.inputs import load_for_eval
    from .tasks.sequence import SequenceSpec
    from .train.trainer import seed_everything

    cfg = read_run_config(path)
    spec = TASKS[cfg.task]
    assert isinstance(spec, SequenceSpec)
    trained = open_run(path)
    scorer = spec.scorer(cfg, trained.artifacts)
    source = cfg.data.builtin or cfg.sources[0]
    data = load_for_eval(source, cfg.data, trained.artifacts).data
    batch = data.batch(np.arange(min(GRADIENT_ROWS, len(data))))
    seed_everything(cfg.train.seed)  # as training did before building the model: same weights
    initial = spec.build_model(cfg, trained.artifacts)
    return gradient_norms(initial, batch, scorer.loss), gradient_norms(
        trained.model, batch, scorer.loss
    )


def compare_gradients(
    runs: Mapping[str, Sequence[Path]], png: Path | None = None, title: str = ""
) -> dict[str, Any]:
    """Gradient norms of every cell's runs (mean over seeds), at init and after training.

    Returns:
        ``{cell: {"init": [norm by distance], "trained": [...], "ratio_distance": d,
        "init_ratio": norm_0 / norm_d, "trained_ratio": ...}}``; the figure goes to ``png``.
    """
    result: dict[str, Any] = {}
    for cell, paths in runs.items():
        pairs = [_flows(Path(p)) for p in paths]
        T = min(len(a) for a, _ in pairs)
        init = np.mean([a[:T] for a, _ in pairs], axis=0)
        after = np.mean([b[:T] for _, b in pairs], axis=0)
        d, r0 = _ratio(list(init))
        _, r1 = _ratio(list(after))
        result[cell] = {"init": [float(f"{v:.4g}") for v in init],
                        "trained": [float(f"{v:.4g}") for v in after],
                        "ratio_distance": d, "init_ratio": r0, "trained_ratio": r1}  # fmt: skip
    if png is not None:
        from .viz.gradients import plot_gradients

        plot_gradients(result, png, title=title)
    return result
