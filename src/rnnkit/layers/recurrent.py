"""Any rnnkit cell module run as a sequence layer — flax's ``nn.RNN(cell)`` for rnnkit.

:class:`Recurrent` takes a cell module (``LSTMCell(3, 8, peephole=True)``, ``GRUCell``,
``JordanCell``, ...) and runs it over whole sequences with the same driver and the same kernel
choice as :class:`~rnnkit.LSTM` and the other layers: torch's own kernel when the cell is exactly
torch's, else rnnkit's fused kernel, else the reference loop (with a one-time warning). Stacking,
directions, lengths, packed input, dropout, initial and carried state and per-step states and
gates work as they do for the layers.

The given cell is the first layer's forward direction (its weights are used, not copied); further
layers and the backward directions are fresh cells with the same options
(:meth:`~rnnkit.layers.cell_modules.CellModule.sibling`), all in :attr:`Recurrent.cell_modules`,
ordered ``l * D + d`` like torch's ``h_n`` and named ``cell_l0``, ``cell_l0_reverse``, ``cell_l1``...
"""

from __future__ import annotations

from typing import Any

from ..cells.base import Weights
from .cell_modules import CellModule
from .driver import SequenceModule

__all__ = ["Recurrent"]


class Recurrent(SequenceModule):
    """Run a cell module over sequences, as a layer with ``torch.nn``'s call signature.

    Args:
        cell: the cell module of the first layer's forward direction.
        num_layers: stacked layers; layer ``l > 0`` reads the ``D*O`` outputs of layer ``l - 1``.
        **sequence_options: ``bidirectional``, ``batch_first``, ``dropout``, ``input_dropout``,
            ``recurrent_dropout``, ``stateful``, ``backend`` — as for :class:`~rnnkit.LSTM`.

    ``forward(input, hx=None, lengths=None, *, return_states=False, return_gates=False)`` returns
    ``(output, h_n)`` as the layers do (``h_n`` a tuple for a cell with more than one state).

    >>> import torch, rnnkit
    >>> cell = rnnkit.LSTMCell(3, 5, peephole=True)
    >>> rnn = rnnkit.Recurrent(cell, num_layers=2, bidirectional=True, batch_first=True)
    >>> out, (h_n, c_n) = rnn(torch.randn(4, 7, 3), lengths=[7, 5, 2, 1])
    >>> tuple(out.shape), tuple(h_n.shape), rnn.cell_modules[0] is cell
    ((4, 7, 10), (4, 4, 5), True)

    Stepping the cell by hand gives the same outputs:

    >>> rnn = rnnkit.Recurrent(cell)
    >>> x, state = torch.randn(7, 4, 3), None
    >>> for t in range(7):
    ...     state = cell(x[t], state)
    >>> torch.allclose(rnn(x)[0][-1], state[0], atol=1e-6)
    True
    """

    def __init__(self, cell: CellModule, num_layers: int = 1, **sequence_options: Any) -> None:
        if not isinstance(cell, CellModule):
            raise ValueError(
                f"Recurrent: cell must be an rnnkit cell module (LSTMCell, GRUCell, ...), "
                f"got {type(cell).__name__}"
            )
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(
                f"Recurrent: num_layers must be a positive integer, got {num_layers!r}"
            )
        D = 2 if sequence_options.get("bidirectional", False) else 1
        upper = D * cell.cell.output_size
        modules = [
            cell if (l, d) == (0, 0) else cell.sibling(cell.input_size if l == 0 else upper)
            for l in range(num_layers)
            for d in range(D)
        ]
        super().__init__([m.cell for m in modules[::D]], **sequence_options)
        self.state_names = cell.state_names
        self.bias = cell.bias
        for k, module in enumerate(modules):  # named as torch names a layer's weights
            self.add_module(f"cell_l{k // D}" + ("_reverse" if k % D else ""), module)

    @property
    def cell_modules(self) -> list[CellModule]:
        """The cell modules, ordered ``l * D + d`` like ``h_n``."""
        return list(self.children())  # type: ignore[arg-type]

    def weights(self, layer: int, direction: int) -> Weights:
        return self.cell_modules[layer * self.num_directions + direction].weights()

    def extra_repr(self) -> str:
        options = [f"num_layers={self.num_layers}"] if self.num_layers > 1 else []
        for key in ("bidirectional", "batch_first", "stateful"):
            if getattr(self, key):
                options.append(f"{key}=True")
        return ", ".join(options)
