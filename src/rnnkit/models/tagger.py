"""Many-to-many in step: a label for every time step (part-of-speech, named entities, copy-memory).

The layer's output at each step goes through dropout and a linear layer to tag logits. Rows are
padded to the longest; the loss and every metric skip steps past each row's length (targets there
are ``IGNORE_INDEX``), and rnnkit layers keep padding out of the valid steps' outputs, so what sits
in the padding never changes a prediction. Use a bidirectional layer when a tag may depend on
what follows (Graves & Schmidhuber 2005).

Shape letters: ``B`` batch, ``T`` steps, ``D*O`` layer output units, ``C`` tags.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batching import IGNORE_INDEX
from .classifier import SequenceEncoder

__all__ = ["SequenceTagger", "tagging_loss"]


class SequenceTagger(nn.Module):
    """Tag logits at every step: ``(B, T)`` ids or ``(B, T, F)`` features -> ``(B, T, C)``.

    Args:
        layer: an rnnkit layer (any cell) or a ``torch.nn`` RNN/LSTM/GRU.
        num_tags: ``C``.
        embedding: e.g. ``nn.Embedding(V, E, padding_idx=0)`` for token ids; ``None`` for features.
        dropout: on each step's output, in training mode.

    >>> import torch, rnnkit
    >>> tagger = SequenceTagger(rnnkit.GRU(4, 6, bidirectional=True), 3)
    >>> tagger(torch.randn(2, 7, 4), torch.tensor([7, 3])).shape
    torch.Size([2, 7, 3])
    """

    def __init__(
        self,
        layer: nn.Module,
        num_tags: int,
        *,
        embedding: nn.Module | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = SequenceEncoder(layer, embedding)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, num_tags)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        out = self.encoder(x, lengths)  # (B, T, D*O)
        return self.head(self.dropout(out))  # (B, T, C)


def tagging_loss(logits: Tensor, tags: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean cross-entropy over valid steps of ``logits (B, T, C)`` against ``tags (B, T)``.

    Steps tagged ``IGNORE_INDEX`` (padding) are left out.
    """
    C = logits.shape[-1]
    return F.cross_entropy(
        logits.reshape(-1, C), tags.reshape(-1), weight=weight, ignore_index=IGNORE_INDEX
    )
