"""Single-step modules, drop-in for ``torch.nn.RNNCell``, ``LSTMCell`` and ``GRUCell``, plus
``JordanCell``. Each holds one cell's weights (``weight_ih``, ``weight_hh``, ...) and computes one
time step; when the configuration is exactly torch's, it calls torch's own fused cell function.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..activations import Activation, get_activation
from ..cells import CellMath, ElmanMath, GRUMath, JordanMath, LSTMMath, State
from ..kernels import RunRequest, native_mode
from ..kernels.native import NativeMode, native_cell_step
from .inputs import check_step_input, shape_str
from .params import (
    TaggedFormulation,
    initializer,
    initializer_spec,
    register_weights,
    weight_options,
)

__all__ = ["CellModule", "GRUCell", "JordanCell", "LSTMCell", "RNNCell"]

ActivationSpec = str | Activation | Callable[[Tensor], Tensor]


class CellModule(TaggedFormulation):
    """One cell's parameters and a step: ``(input (B, I), state) -> state``.

    Run it over whole sequences with :class:`~rnnkit.layers.Recurrent`.
    """

    state_names: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(
        self, cell: CellMath, bias: bool, device: Any = None, dtype: Any = None, **options: Any
    ) -> None:
        """``options``: ``kernel_initializer``, ``recurrent_initializer``, ``bias_initializer``."""
        super().__init__()
        self.bias = bias
        opts = dict(options)
        self.weight_options = weight_options(opts, allowed="initializer")
        if opts:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(opts)}")
        self._build(cell, device=device, dtype=dtype)

    def _build(self, cell: CellMath, **factory: Any) -> None:
        """(Re)make the parameters for ``cell``, freshly initialised."""
        self.cell = cell
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size
        self._parameters.clear()
        self._kinds = {
            name: kind for _, name, kind in register_weights(self, cell, self.bias, **factory)
        }
        self.reset_parameters()

    def sibling(self, input_size: int | None = None) -> CellModule:
        """A new cell module with this one's options, fresh weights and (optionally) another
        input size: how :class:`~rnnkit.layers.Recurrent` makes its other layers and directions."""
        twin = copy.deepcopy(self)
        like = next(self.parameters())
        twin._build(
            replace(self.cell, input_size=input_size or self.input_size),  # type: ignore[type-var]
            device=like.device,
            dtype=like.dtype,
        )
        return twin

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_inits" in state:  # pickled by rnnkit 0.1, with resolved initialiser functions
            state = dict(state)
            inits = state.pop("_inits")
            state["weight_options"] = {
                f"{k}_initializer": initializer_spec(inits[k])
                for k in ("kernel", "recurrent", "bias")
            }
        super().__setstate__(state)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for name, kind in self._kinds.items():
                initializer(self.weight_options, kind)(getattr(self, name), self.hidden_size)
            self.cell.init_adjust(self.weights())

    def weights(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in self._kinds}

    def native_mode(self) -> NativeMode | None:
        """torch's fused cell function for exactly this configuration, if there is one."""
        return native_mode(self.cell, RunRequest(single_step=True))

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        """One step. ``input (B, I)`` or unbatched ``(I,)``; ``hx`` as ``torch.nn``'s cell takes it."""
        name = type(self).__name__
        x, unbatched = check_step_input(name, input, self.input_size)  # (B, I)
        B = x.shape[0]
        sizes = self.cell.state_sizes
        if hx is None:
            state: State = tuple(x.new_zeros(B, s) for s in sizes)
        else:
            parts = (hx,) if len(sizes) == 1 else tuple(hx)
            if len(parts) != len(sizes):
                raise ValueError(f"{name}: hx must be a tuple of {len(sizes)} tensors")
            for p, n, s in zip(parts, self.state_names, sizes, strict=True):
                want = (s,) if unbatched else (B, s)
                if not isinstance(p, Tensor) or tuple(p.shape) != want:
                    got = shape_str(p.shape) if isinstance(p, Tensor) else type(p).__name__
                    raise ValueError(f"{name}: expected {n} of shape {shape_str(want)}, got {got}")
            state = tuple(p.unsqueeze(0) for p in parts) if unbatched else parts
        mode = self.native_mode()
        w = self.weights()
        new = self.cell.step(x, state, w) if mode is None else native_cell_step(mode, x, state, w)
        if unbatched:
            new = tuple(s.squeeze(0) for s in new)
        return new[0] if len(new) == 1 else new

    def _formulation_cell(self) -> CellMath:
        return self.cell


class RNNCell(CellModule):
    """Elman step, drop-in for ``torch.nn.RNNCell``: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``.

    >>> import torch
    >>> tuple(RNNCell(3, 5)(torch.randn(2, 3)).shape)
    (2, 5)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: ActivationSpec = "tanh",
        device: Any = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        act = get_activation(nonlinearity, "nonlinearity")
        self.nonlinearity = act.name
        super().__init__(ElmanMath(input_size, hidden_size, act), bias, device, dtype, **options)


class LSTMCell(CellModule):
    """LSTM step, drop-in for ``torch.nn.LSTMCell``; variants as for :class:`rnnkit.LSTM`.

    >>> import torch
    >>> h, c = LSTMCell(3, 5, coupled=True)(torch.randn(2, 3))
    >>> tuple(h.shape), tuple(c.shape)
    ((2, 5), (2, 5))
    """

    state_names = ("h", "c")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        peephole: bool = False,
        coupled: bool = False,
        unit_forget_bias: bool = False,
        activation: ActivationSpec = "tanh",
        recurrent_activation: ActivationSpec = "sigmoid",
        **options: Any,
    ) -> None:
        if unit_forget_bias and not bias:
            raise ValueError("LSTMCell: unit_forget_bias=True needs bias=True")
        cell = LSTMMath(
            input_size,
            hidden_size,
            get_activation(activation, "activation"),
            get_activation(recurrent_activation, "recurrent_activation"),
            0,
            peephole,
            coupled,
            unit_forget_bias,
        )
        super().__init__(cell, bias, device, dtype, **options)


class GRUCell(CellModule):
    """GRU step, drop-in for ``torch.nn.GRUCell``; ``reset_after=False`` for Cho et al.'s form.

    >>> import torch
    >>> tuple(GRUCell(3, 5, reset_after=False)(torch.randn(2, 3)).shape)
    (2, 5)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        reset_after: bool = True,
        activation: ActivationSpec = "tanh",
        recurrent_activation: ActivationSpec = "sigmoid",
        **options: Any,
    ) -> None:
        cell = GRUMath(
            input_size,
            hidden_size,
            get_activation(activation, "activation"),
            get_activation(recurrent_activation, "recurrent_activation"),
            reset_after,
        )
        super().__init__(cell, bias, device, dtype, **options)


class JordanCell(CellModule):
    """One step of :class:`rnnkit.JordanRNN`; state ``(y, h)``.

    >>> import torch
    >>> y, h = JordanCell(3, 8, 2)(torch.randn(4, 3))
    >>> tuple(y.shape), tuple(h.shape)
    ((4, 2), (4, 8))
    """

    state_names = ("y", "h")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        hidden_to_hidden: bool = False,
        output_to_hidden: bool = True,
        output_to_output: bool = False,
        activation: ActivationSpec = "tanh",
        output_activation: ActivationSpec = "tanh",
        **options: Any,
    ) -> None:
        cell = JordanMath(
            input_size,
            hidden_size,
            output_size,
            get_activation(activation, "activation"),
            get_activation(output_activation, "output_activation"),
            hidden_to_hidden,
            output_to_hidden,
            output_to_output,
        )
        super().__init__(cell, bias, device, dtype, **options)
