"""Many-to-one heads: a recurrent layer reads, a pooling keeps one vector, a linear layer scores it.

The pooled vector sees valid steps only, so padding never reaches a prediction:

* ``last`` — the output at each row's last valid step. For a bidirectional layer the two halves
  are the forward direction's output at step ``length - 1`` and the backward direction's at step 0,
  i.e. the final states ``h_n`` of both directions (each has then read the whole sequence).
* ``mean`` — the average of the outputs over valid steps.
* ``max`` — the element-wise maximum over valid steps (Collobert et al. 2011's max-over-time).

Models take batch-first input: token ids ``(B, T)`` through an ``embedding``, or features
``(B, T, F)``, with ``lengths (B,)``. Any rnnkit layer works (its ``lengths=`` keeps padding out of
outputs and final states), so does any rnnkit cell (``LSTMCell(3, 8, peephole=True)``,
``JordanCell``, ...), unrolled by the layers' own driver, and a ``torch.nn`` RNN/LSTM/GRU, fed a
PackedSequence.

Shape letters: ``B`` batch, ``T`` steps, ``F`` features, ``D`` directions, ``O`` layer output units,
``C`` classes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..layers import CellModule, Recurrent, RecurrentLayer

__all__ = [
    "POOLINGS",
    "SequenceClassifier",
    "SequenceEncoder",
    "SequenceRegressor",
    "layer_output_size",
    "pool_last",
    "pool_max",
    "pool_mean",
    "run_layer",
]

Pooling = Callable[[Tensor, Tensor, int], Tensor]


def layer_output_size(layer: nn.Module) -> int:
    """``D * O``: the size of the layer's output at each step."""
    if isinstance(layer, RecurrentLayer):
        return layer.cells[-1].output_size * layer.num_directions
    if isinstance(layer, CellModule):
        return layer.cell.output_size
    if isinstance(layer, nn.RNNBase):
        return (layer.proj_size or layer.hidden_size) * (2 if layer.bidirectional else 1)
    raise TypeError(
        f"expected an rnnkit layer or cell, or a torch.nn RNN/LSTM/GRU, got {type(layer).__name__}"
    )


def _directions(layer: nn.Module) -> int:
    return 2 if getattr(layer, "bidirectional", False) else 1


def run_layer(layer: nn.Module, x: Tensor, lengths: Tensor) -> Tensor:
    """Run ``layer`` over batch-first ``x (B, T, I)``: ``(B, T, D*O)``, zeros past each length.

    ``layer`` is an rnnkit layer (given ``lengths=``), an rnnkit cell such as ``LSTMCell``
    (unrolled by the driver the layers use), or a ``torch.nn`` RNN/LSTM/GRU (fed a PackedSequence).
    """
    if isinstance(layer, RecurrentLayer):
        full = lengths.numel() > 0 and int(lengths.min()) == x.shape[1]  # no padding: skip packing
        out, _ = layer(
            x if layer.batch_first else x.transpose(0, 1), lengths=None if full else lengths
        )
        return out if layer.batch_first else out.transpose(0, 1)  # (B, T, D*O)
    if isinstance(layer, CellModule):  # unrolled by the layers' own driver
        out, _ = Recurrent(layer, batch_first=True).train(layer.training)(x, lengths=lengths)
        return out  # (B, T, O)
    T = x.shape[1]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = layer(packed)
    padded, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    return padded  # (B, T, D*O)


def _valid(lengths: Tensor, T: int) -> Tensor:
    """``(B, T, 1)`` booleans, True at valid steps."""
    return (torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]).unsqueeze(-1)


def pool_last(out: Tensor, lengths: Tensor, num_directions: int) -> Tensor:
    """Forward half at step ``length - 1``, backward half at step 0: ``(B, T, D*O) -> (B, D*O)``.

    >>> out = torch.arange(12.).reshape(1, 3, 4)  # one row, 3 steps, D=2 directions of O=2
    >>> pool_last(out, torch.tensor([2]), 2).tolist()
    [[4.0, 5.0, 2.0, 3.0]]
    """
    B = out.shape[0]
    O = out.shape[-1] // num_directions
    idx = (lengths - 1).clamp(min=0).to(out.device)
    forward = out[torch.arange(B, device=out.device), idx, :O]  # (B, O)
    if lengths.numel() and int(lengths.min()) == 0:
        forward = forward * (lengths > 0).to(out.device, out.dtype)[:, None]
    if num_directions == 1:
        return forward
    return torch.cat([forward, out[:, 0, O:]], dim=-1)  # (B, 2O)


def pool_mean(out: Tensor, lengths: Tensor, num_directions: int) -> Tensor:
    """Mean over valid steps (zeros for an empty row).

    >>> pool_mean(torch.tensor([[[1.], [3.], [100.]]]), torch.tensor([2]), 1).tolist()
    [[2.0]]
    """
    valid = _valid(lengths.to(out.device), out.shape[1])
    total = (out * valid).sum(dim=1)  # (B, D*O)
    return total / lengths.to(out.device).clamp(min=1)[:, None].to(out.dtype)


def pool_max(out: Tensor, lengths: Tensor, num_directions: int) -> Tensor:
    """Element-wise max over valid steps (zeros for an empty row).

    >>> pool_max(torch.tensor([[[1.], [-3.], [100.]]]), torch.tensor([2]), 1).tolist()
    [[1.0]]
    """
    valid = _valid(lengths.to(out.device), out.shape[1])
    best = out.masked_fill(~valid, float("-inf")).amax(dim=1)  # (B, D*O)
    return torch.where(torch.isfinite(best), best, torch.zeros_like(best))


POOLINGS: dict[str, Pooling] = {"last": pool_last, "mean": pool_mean, "max": pool_max}


def _pooling(pooling: str | Pooling) -> Pooling:
    if callable(pooling):
        return pooling
    if pooling not in POOLINGS:
        raise ValueError(
            f"pooling must be one of {', '.join(POOLINGS)} or a callable, got {pooling!r}"
        )
    return POOLINGS[pooling]


class SequenceEncoder(nn.Module):
    """Optional embedding, then the layer: ``(B, T)`` ids or ``(B, T, F)`` -> ``(B, T, D*O)``."""

    def __init__(self, layer: nn.Module, embedding: nn.Module | None = None) -> None:
        super().__init__()
        self.embedding = embedding
        self.layer = layer
        self.output_size = layer_output_size(layer)
        self.num_directions = _directions(layer)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.embedding is not None:
            x = self.embedding(x)  # (B, T) -> (B, T, E)
        return run_layer(self.layer, x, lengths)


class SequenceClassifier(nn.Module):
    """Many-to-one classification: layer, pooling over valid steps, dropout, linear to ``C`` logits.

    Args:
        layer: an rnnkit layer (any cell) or a ``torch.nn`` RNN/LSTM/GRU.
        num_classes: ``C``.
        embedding: e.g. ``nn.Embedding(V, E, padding_idx=0)`` for token ids; ``None`` for features.
        pooling: ``"last"``, ``"mean"``, ``"max"`` or a callable ``(out, lengths, D) -> (B, D*O)``.
        dropout: on the pooled vector, in training mode.

    >>> import rnnkit
    >>> model = SequenceClassifier(rnnkit.LSTM(3, 8, bidirectional=True), 4, pooling="max")
    >>> model(torch.randn(2, 5, 3), torch.tensor([5, 2])).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        layer: nn.Module,
        num_classes: int,
        *,
        embedding: nn.Module | None = None,
        pooling: str | Pooling = "last",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = SequenceEncoder(layer, embedding)
        self.pool = _pooling(pooling)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)

    def features(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The pooled vector ``(B, D*O)``."""
        out = self.encoder(x, lengths)  # (B, T, D*O)
        return self.pool(out, lengths, self.encoder.num_directions)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits ``(B, C)``."""
        return self.head(self.dropout(self.features(x, lengths)))


class SequenceRegressor(SequenceClassifier):
    """Many-to-one regression: as :class:`SequenceClassifier`, with ``num_outputs`` real values.

    ``forward`` returns ``(B,)`` for one output, ``(B, K)`` for ``K > 1``.

    >>> import rnnkit
    >>> model = SequenceRegressor(rnnkit.GRU(2, 8))
    >>> model(torch.randn(3, 5, 2), torch.tensor([5, 4, 1])).shape
    torch.Size([3])
    """

    def __init__(
        self,
        layer: nn.Module,
        num_outputs: int = 1,
        *,
        embedding: nn.Module | None = None,
        pooling: str | Pooling = "last",
        dropout: float = 0.0,
    ) -> None:
        super().__init__(layer, num_outputs, embedding=embedding, pooling=pooling, dropout=dropout)
        self.num_outputs = num_outputs

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        y = super().forward(x, lengths)  # (B, K)
        return y.squeeze(-1) if self.num_outputs == 1 else y
