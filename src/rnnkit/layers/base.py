"""The recurrent layer: PyTorch-named parameters over the sequence driver, for every cell family.

A layer owns its weights under torch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), their
initialisation and penalties (:mod:`rnnkit.layers.params`) and an optional learned initial state;
running sequences — input checks, state carry, kernel choice, stacking — is the driver's
(:class:`~rnnkit.layers.driver.SequenceModule`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..cells.base import CellMath, State, Weights
from ..kernels import BACKENDS, SlowPathWarning
from .driver import SequenceModule
from .params import (
    TaggedFormulation,
    initializer,
    initializer_spec,
    register_weights,
    regularizer,
    weight_options,
)

__all__ = ["BACKENDS", "RecurrentLayer", "SlowPathWarning"]


class RecurrentLayer(TaggedFormulation, SequenceModule):
    """Base of :class:`~rnnkit.RNN`, :class:`~rnnkit.LSTM`, :class:`~rnnkit.GRU` and :class:`~rnnkit.JordanRNN`.

    Subclasses build one :class:`~rnnkit.cells.CellMath` per layer and say how their state is
    packaged (``state_names``); the sequence options (``batch_first``, ``dropout``,
    ``bidirectional``, ``input_dropout``, ``recurrent_dropout``, ``stateful``, ``backend``) are
    :class:`~rnnkit.layers.driver.SequenceModule`'s.

    Args:
        cells: the math of each layer.
        bias: the ``bias_*`` parameters exist.
        learn_init: one learned initial vector per layer, direction and state entry
            (parameters ``h0``, and ``c0``/``y0``, each ``(L*D, size)``).
        kernel_initializer, recurrent_initializer, bias_initializer: Keras's initialiser names
            (or callables); PyTorch's ``U(-1/sqrt(H), 1/sqrt(H))`` when omitted.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer:
            Keras's penalties, summed by :meth:`regularization_loss`.
        device, dtype: where and how the parameters are made.
        **options: the initialisers and regularisers above, and the sequence options.
    """

    def __init__(
        self,
        cells: Sequence[CellMath],
        *,
        bias: bool = True,
        learn_init: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        **options: Any,
    ) -> None:
        opts = dict(options)
        weights = weight_options(opts)  # takes the initialiser and regulariser arguments
        super().__init__(cells, **opts)
        self.bias = bias
        self.learn_init = learn_init
        self.weight_options = weights
        self._activity_penalty: Tensor | None = None
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        D = self.num_directions
        # [l][d] -> (name in the cell, parameter name, kind)
        self._names = [
            [
                register_weights(self, cell, bias, f"_l{l}" + ("_reverse" if d else ""), **factory)
                for d in range(D)
            ]
            for l, cell in enumerate(self.cells)
        ]
        if learn_init:  # one learned initial vector per layer, direction and state entry
            for n, size in zip(self.state_names, self.cells[0].state_sizes, strict=True):
                self.register_parameter(
                    f"{n}0", nn.Parameter(torch.zeros(self.num_layers * D, size, **factory))
                )
        self.reset_parameters()

    # ----- parameters -------------------------------------------------------------------------

    def weights(self, layer: int, direction: int) -> Weights:
        """The weights of one layer and direction, named as the cell names them."""
        return {base: getattr(self, full) for base, full, _ in self._names[layer][direction]}

    def _flat_weights(self) -> list[Tensor]:
        """All weights in ``torch.nn``'s order (layer, direction, then ih, hh, biases, hr)."""
        return [getattr(self, full) for per_dir in self._names for n in per_dir for _, full, _ in n]

    def reset_parameters(self) -> None:
        """Initialise as configured: PyTorch's ``U(-1/sqrt(H), 1/sqrt(H))`` unless told otherwise."""
        opts = self.weight_options
        with torch.no_grad():
            for l, cell in enumerate(self.cells):
                for d in range(self.num_directions):
                    for _, full, kind in self._names[l][d]:
                        initializer(opts, kind)(getattr(self, full), self.hidden_size)
                    cell.init_adjust(self.weights(l, d))
            if self.learn_init:
                for n in self.state_names:
                    getattr(self, f"{n}0").zero_()

    def flatten_parameters(self) -> None:
        """Kept for drop-in compatibility with ``torch.nn``; rnnkit needs no flattening on CPU."""

    def regularization_loss(self) -> Tensor:
        """Sum of the configured weight penalties plus the activity penalty of the last forward."""
        first = next(self.parameters())
        total = torch.zeros((), dtype=first.dtype, device=first.device)
        for per_dir in self._names:
            for names in per_dir:
                for _, full, kind in names:
                    reg = regularizer(self.weight_options, kind)
                    if reg is not None:
                        total = total + reg(getattr(self, full))
        if self._activity_penalty is not None:
            total = total + self._activity_penalty
        return total

    def _on_output(self, output: Tensor | PackedSequence) -> None:
        reg = regularizer(self.weight_options, "activity")
        if reg is not None:
            self._activity_penalty = reg(
                output.data if isinstance(output, PackedSequence) else output
            )

    def _default_state(self, B: int, x: Tensor) -> State:
        if self.learn_init:
            return tuple(
                getattr(self, f"{n}0")[:, None, :].expand(-1, B, -1).contiguous()
                for n in self.state_names
            )
        return super()._default_state(B, x)

    # ----- saving: state_dict and pickle ------------------------------------------------------

    def _formulation_cell(self) -> CellMath:
        return self.cells[0]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_activity_penalty"] = None  # part of the last forward's graph, not of the layer
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_kinds" in state:  # pickled by rnnkit 0.1: resolved functions, names without kinds
            state = dict(state)
            kinds, inits, regs = state.pop("_kinds"), state.pop("_inits"), state.pop("_regs")
            state["_names"] = [
                [[(base, full, kinds[full]) for base, full in names] for names in per_dir]
                for per_dir in state["_names"]
            ]
            state["weight_options"] = {
                **{
                    f"{k}_initializer": initializer_spec(inits[k])
                    for k in ("kernel", "recurrent", "bias")
                },
                **{f"{k}_regularizer": regs[k] for k in ("kernel", "recurrent", "bias")},
                "activity_regularizer": state.pop("_activity_reg"),
            }
            state["_carried"] = (state.pop("_carry"), state.pop("_reset_rows"))
        super().__setstate__(state)

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        for key, default in [
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            ("input_dropout", 0.0),
            ("recurrent_dropout", 0.0),
            ("learn_init", False),
            ("stateful", False),
            ("backend", "auto"),
        ]:
            if getattr(self, key) != default:
                parts.append(f"{key}={getattr(self, key)!r}")
        return ", ".join(parts)
