"""The recurrent layer: parameters, options and kernel choice, shared by every cell family.

A layer owns PyTorch-named parameters (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), turns the
user's input into the time-major form the kernels take, picks the fastest kernel that computes
exactly its configuration, and formats the result the way ``torch.nn`` does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..cells.base import CellMath, State, Weights
from ..initializers import Initializer, get_initializer
from ..kernels import (
    fused_kernel_for,
    fused_unfusable,
    run_native,
    run_native_packed,
    run_reference,
    run_stack,
)
from ..kernels.native import NativeMode, native_cell_step
from ..regularizers import Regularizer, get_regularizer
from .inputs import check_state, check_step_input, prepare_input, repack, shape_str

__all__ = ["BACKENDS", "RecurrentLayer", "SlowPathWarning"]

BACKENDS = ("auto", "native", "fused", "reference")


class SlowPathWarning(UserWarning):
    """A layer runs a slower kernel than the fastest one, because of the option it names."""


class RecurrentLayer(nn.Module):
    """Base of :class:`~rnnkit.RNN`, :class:`~rnnkit.LSTM`, :class:`~rnnkit.GRU` and :class:`~rnnkit.JordanRNN`.

    Subclasses build one :class:`~rnnkit.cells.CellMath` per layer and say how their state is
    packaged (``state_names``); everything else is here.
    """

    state_names: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(
        self,
        cells: Sequence[CellMath],
        *,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        learn_init: bool = False,
        stateful: bool = False,
        backend: str = "auto",
        kernel_initializer: str | Initializer | None = None,
        recurrent_initializer: str | Initializer | None = None,
        bias_initializer: str | Initializer | None = None,
        kernel_regularizer: str | Regularizer | None = None,
        recurrent_regularizer: str | Regularizer | None = None,
        bias_regularizer: str | Regularizer | None = None,
        activity_regularizer: str | Regularizer | None = None,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        for arg, p, top in [
            ("dropout", dropout, 1.0),
            ("input_dropout", input_dropout, 0.999),
            ("recurrent_dropout", recurrent_dropout, 0.999),
        ]:
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= top:
                raise ValueError(f"{name}: {arg} must be a probability in [0, 1), got {p!r}")
        if backend not in BACKENDS:
            raise ValueError(f"{name}: backend={backend!r} is unknown; choose one of {BACKENDS}")
        self.cells = tuple(cells)
        self.input_size = self.cells[0].input_size
        self.hidden_size = self.cells[0].hidden_size
        self.num_layers = len(self.cells)
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.input_dropout = float(input_dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.learn_init = learn_init
        self.stateful = stateful
        self.backend = backend
        self._inits = {
            "kernel": get_initializer(kernel_initializer, "kernel_initializer"),
            "peephole": get_initializer(kernel_initializer, "kernel_initializer"),
            "recurrent": get_initializer(recurrent_initializer, "recurrent_initializer"),
            "bias": get_initializer(bias_initializer, "bias_initializer"),
        }
        self._regs = {
            "kernel": get_regularizer(kernel_regularizer, "kernel_regularizer"),
            "peephole": get_regularizer(kernel_regularizer, "kernel_regularizer"),
            "recurrent": get_regularizer(recurrent_regularizer, "recurrent_regularizer"),
            "bias": get_regularizer(bias_regularizer, "bias_regularizer"),
        }
        self._activity_reg = get_regularizer(activity_regularizer, "activity_regularizer")
        self._activity_penalty: Tensor | None = None

        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        D = self.num_directions
        self._names: list[
            list[list[tuple[str, str]]]
        ] = []  # [l][d] -> (name in cell, parameter name)
        self._kinds: dict[str, str] = {}
        for l, cell in enumerate(self.cells):
            per_dir = []
            for d in range(D):
                suffix = f"_l{l}" + ("_reverse" if d else "")
                names = []
                for base, spec in cell.weight_specs(bias).items():
                    self.register_parameter(
                        base + suffix, nn.Parameter(torch.empty(spec.shape, **factory))
                    )
                    self._kinds[base + suffix] = spec.kind
                    names.append((base, base + suffix))
                per_dir.append(names)
            self._names.append(per_dir)
        if learn_init:  # one learned initial vector per layer, direction and state entry
            for n, size in zip(self.state_names, self.cells[0].state_sizes, strict=True):
                self.register_parameter(
                    f"{n}0", nn.Parameter(torch.zeros(self.num_layers * D, size, **factory))
                )
        self._carry: State | None = None
        self._reset_rows: Tensor | None = None
        self._warned: set[str] = set()
        self.reset_parameters()

    # ----- parameters -------------------------------------------------------------------------

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def weights(self, layer: int, direction: int) -> Weights:
        """The weights of one layer and direction, named as the cell names them."""
        return {base: getattr(self, full) for base, full in self._names[layer][direction]}

    def _flat_weights(self) -> list[Tensor]:
        """All weights in ``torch.nn``'s order (layer, direction, then ih, hh, biases, hr)."""
        return [
            getattr(self, full) for per_dir in self._names for names in per_dir for _, full in names
        ]

    def reset_parameters(self) -> None:
        """Initialise as configured: PyTorch's ``U(-1/sqrt(H), 1/sqrt(H))`` unless told otherwise."""
        with torch.no_grad():
            for l, cell in enumerate(self.cells):
                for d in range(self.num_directions):
                    w = self.weights(l, d)
                    for base, full in self._names[l][d]:
                        self._inits[self._kinds[full]](w[base], self.hidden_size)
                    cell.init_adjust(w)
            for n in self.state_names:
                if self.learn_init:
                    getattr(self, f"{n}0").zero_()

    def flatten_parameters(self) -> None:
        """Kept for drop-in compatibility with ``torch.nn``; rnnkit needs no flattening on CPU."""

    def regularization_loss(self) -> Tensor:
        """Sum of the configured weight penalties plus the activity penalty of the last forward."""
        total = torch.zeros(
            (), dtype=next(self.parameters()).dtype, device=next(self.parameters()).device
        )
        for full, kind in self._kinds.items():
            reg = self._regs[kind]
            if reg is not None:
                total = total + reg(getattr(self, full))
        if self._activity_penalty is not None:
            total = total + self._activity_penalty
        return total

    # ----- state ------------------------------------------------------------------------------

    def reset_state(self, mask: Tensor | Sequence[bool] | None = None) -> None:
        """Forget the carried state of a ``stateful`` layer: all rows, or the rows where ``mask`` is True.

        Reset rows start the next call from the initial state (zeros, or the learned one).
        """
        if mask is None or self._carry is None:
            self._carry, self._reset_rows = None, None
            return
        m = torch.as_tensor(mask, dtype=torch.bool, device=self._carry[0].device)
        B = self._carry[0].shape[1]
        if m.shape != (B,):
            raise ValueError(
                f"{type(self).__name__}: reset_state mask must have shape ({B},), got {shape_str(m.shape)}"
            )
        self._reset_rows = m if self._reset_rows is None else self._reset_rows | m

    def _state_shapes(self, B: int) -> list[tuple[int, ...]]:
        n = self.num_layers * self.num_directions
        return [(n, B, size) for size in self.cells[0].state_sizes]

    def _default_state(self, B: int, x: Tensor) -> State:
        if self.learn_init:
            return tuple(
                getattr(self, f"{n}0")[:, None, :].expand(-1, B, -1).contiguous()
                for n in self.state_names
            )
        return tuple(x.new_zeros(shape) for shape in self._state_shapes(B))

    def _split_hx(self, hx: Any) -> tuple[Tensor, ...]:
        """``torch.nn``'s state packaging -> a tuple of tensors."""
        if len(self.state_names) == 1:
            if isinstance(hx, (tuple, list)):
                raise ValueError(
                    f"{type(self).__name__}: hx must be a Tensor, got a {type(hx).__name__}"
                )
            return (hx,)
        names = ", ".join(f"{n}_0" for n in self.state_names)
        if not isinstance(hx, (tuple, list)) or len(hx) != len(self.state_names):
            raise ValueError(f"{type(self).__name__}: hx must be a tuple ({names})")
        return tuple(hx)

    def _join_state(self, state: State) -> Tensor | tuple[Tensor, ...]:
        return state[0] if len(state) == 1 else tuple(state)

    def _initial_state(self, hx: Any, B: int, x: Tensor, unbatched: bool) -> State:
        name = type(self).__name__
        if hx is not None:
            parts = self._split_hx(hx)
            shapes = self._state_shapes(B)
            if unbatched:
                check_state(name, parts, self.state_names, [(s[0], s[2]) for s in shapes], x)
                return tuple(p.unsqueeze(1) for p in parts)
            check_state(name, parts, self.state_names, shapes, x)
            return parts
        init = self._default_state(B, x)
        if not (self.stateful and self._carry is not None):
            return init
        if self._carry[0].shape[1] != B:
            raise ValueError(
                f"{name}: the carried state is for a batch of {self._carry[0].shape[1]} rows, "
                f"got {B}; call reset_state() first"
            )
        if self._reset_rows is None:
            return self._carry
        rows = self._reset_rows[None, :, None]
        return tuple(torch.where(rows, i, c) for i, c in zip(init, self._carry, strict=True))

    # ----- kernel choice ----------------------------------------------------------------------

    def native_mode(self) -> NativeMode | None:
        """The ``torch._VF`` kernel that computes exactly this configuration, if there is one."""
        return None

    def variant_reason(self) -> str:
        """The option that keeps this layer off torch's native kernel (for the warning)."""
        return "this cell"

    def _slow_reason(self, keep_steps: bool) -> str | None:
        if self.native_mode() is None:
            return self.variant_reason()
        if self.training and self.input_dropout > 0:
            return "input_dropout"
        if self.training and self.recurrent_dropout > 0:
            return "recurrent_dropout"
        if keep_steps:
            return "return_states=True"
        return None

    def _select_kernel(self, keep_steps: bool) -> str:
        """``"native"``, ``"fused"`` or ``"reference"``: the fastest kernel that computes exactly
        this configuration (or the one ``backend`` names); warns once per option that forces the
        reference loop."""
        name = type(self).__name__
        if self.backend == "reference":
            return "reference"
        reason = self._slow_reason(keep_steps)
        if reason is None and self.backend != "fused":
            return "native"
        if self.backend == "native":
            raise ValueError(f"{name}: backend='native' cannot run {reason}")
        why = fused_unfusable(self.cells[0])
        if why is None:
            return "fused"
        if self.backend == "fused":
            raise ValueError(f"{name}: backend='fused' cannot run {why}")
        if why not in self._warned:
            self._warned.add(why)
            warnings.warn(
                f"{name}: {why} has no fused kernel; running the reference loop (much slower)",
                SlowPathWarning,
                stacklevel=5,  # _select_kernel < forward < Module._call_impl < __call__ < user
            )
        return "reference"

    # ----- forward ----------------------------------------------------------------------------

    def _dropout_masks(self, B: int, like: Tensor) -> tuple[Any, Any]:
        """Variational masks (Gal & Ghahramani 2016): one per sequence, layer and direction."""
        if not self.training or (self.input_dropout == 0 and self.recurrent_dropout == 0):
            return None, None

        def mask(p: float, size: int) -> Tensor | None:
            if p == 0:
                return None
            return torch.bernoulli(like.new_full((B, size), 1 - p)) / (1 - p)

        D, in_masks, rec_masks = self.num_directions, [], []
        for cell in self.cells:
            in_masks.append([mask(self.input_dropout, cell.input_size) for _ in range(D)])
            rec_masks.append(
                [
                    [
                        mask(self.recurrent_dropout, s) if ok else None
                        for s, ok in zip(cell.state_sizes, cell.droppable, strict=True)
                    ]
                    for _ in range(D)
                ]
            )
        return in_masks, rec_masks

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Any = None,
        lengths: Tensor | Sequence[int] | None = None,
        *,
        return_states: bool = False,
    ) -> Any:
        """Run the layer.

        Args:
            input: ``(T, B, I)`` (``(B, T, I)`` with ``batch_first``), unbatched ``(T, I)``, or a
                PackedSequence.
            hx: initial state as ``torch.nn`` takes it (``h_0``, or a tuple such as ``(h_0, c_0)``),
                each ``(L*D, B, size)``; zeros (or the learned/carried state) when omitted.
            lengths: ``(B,)`` valid length of each row; outputs past it are zeros and the final
                state is the state at the last valid step (the initial state for length 0).
            return_states: also return every step's state, one tensor per state entry shaped
                ``(L*D, T, B, size)`` (``(L*D, B, T, size)`` with ``batch_first``).

        Returns:
            ``(output, h_n)`` as ``torch.nn`` returns them (``h_n`` a tuple for LSTM and
            JordanRNN), plus the per-step states when ``return_states`` is set.
        """
        prep = prepare_input(type(self).__name__, input, lengths, self.input_size, self.batch_first)
        x, lens = prep.x, prep.lengths
        B = x.shape[1]
        state0 = self._initial_state(hx, B, x, prep.unbatched)
        steps = None
        kind = self._select_kernel(return_states)
        if kind == "native":
            output, final = self._run_native(x, state0, lens, prep.packed)
        else:
            kernel = fused_kernel_for(self.cells[0]) if kind == "fused" else run_reference
            assert kernel is not None
            in_masks, rec_masks = self._dropout_masks(B, x)
            out, final, steps = run_stack(
                self.cells,
                [
                    [self.weights(l, d) for d in range(self.num_directions)]
                    for l in range(self.num_layers)
                ],
                x,
                state0,
                lens,
                kernel,
                dropout=self.dropout,
                training=self.training,
                input_masks=in_masks,
                drop_masks=rec_masks,
                keep_steps=return_states,
            )
            output = repack(out, prep.packed) if prep.packed is not None else out
        if self.stateful:
            self._carry, self._reset_rows = tuple(f.detach() for f in final), None
        if self._activity_reg is not None:
            flat = output.data if isinstance(output, PackedSequence) else output
            self._activity_penalty = self._activity_reg(flat)
        if isinstance(output, Tensor):
            if prep.unbatched:
                output = output.squeeze(1)
            elif self.batch_first:
                output = output.transpose(0, 1)
        if prep.unbatched:
            final = tuple(f.squeeze(1) for f in final)
        result = (output, self._join_state(final))
        if not return_states:
            return result
        assert steps is not None
        if prep.unbatched:
            steps = tuple(s.squeeze(2) for s in steps)
        elif self.batch_first:
            steps = tuple(s.transpose(1, 2) for s in steps)
        return (*result, steps)

    def _run_native(
        self, x: Tensor, state0: State, lens: Tensor | None, packed: PackedSequence | None
    ) -> tuple[Tensor | PackedSequence, State]:
        mode = self.native_mode()
        assert mode is not None
        common = (
            self._flat_weights(),
            self.bias,
            self.num_layers,
            self.dropout,
            self.training,
            self.bidirectional,
        )
        if packed is None:
            return run_native(mode, x, state0, *common, lengths=lens)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        hx = state0 if order is None else tuple(s[:, order] for s in state0)
        data, final = run_native_packed(mode, packed.data, packed.batch_sizes, hx, *common)
        if unorder is not None:
            final = tuple(f[:, unorder] for f in final)
        return PackedSequence(data, packed.batch_sizes, order, unorder), final

    # ----- one time step (generation) --------------------------------------------------------

    def step(self, input: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """One time step with carried state: ``forward`` on a length-1 input, as generation needs.

        Standard configurations call torch's fused cell functions (``torch.lstm_cell``,
        ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``) layer by layer, which is quicker than
        ``torch.nn.LSTM`` on a length-1 input; variants step their cell's equations. No dropout is
        applied (generation), so it equals ``forward`` in eval mode.

        Args:
            input: ``(B, I)``, or unbatched ``(I,)``.
            state: as ``forward``'s ``hx`` (each entry ``(L, B, size)``, or ``(L, size)`` unbatched);
                ``None`` starts from the initial state (zeros, learned, or the carried one).

        Returns:
            ``(output (B, O), state)``, the state packaged as ``forward`` returns ``h_n``.

        >>> import torch, rnnkit
        >>> lstm = rnnkit.LSTM(3, 5, num_layers=2, peephole=True)
        >>> y, state = lstm.step(torch.randn(4, 3))
        >>> y, state = lstm.step(torch.randn(4, 3), state)
        >>> tuple(y.shape), tuple(state[1].shape)
        ((4, 5), (2, 4, 5))
        """
        name = type(self).__name__
        if self.bidirectional:
            raise ValueError(f"{name}: step() needs a unidirectional layer (bidirectional=True)")
        x, unbatched = check_step_input(name, input, self.input_size)  # (B, I)
        state0 = self._initial_state(state, x.shape[0], x, unbatched)  # entries (L, B, size)
        mode = self.native_mode() if getattr(self, "proj_size", 0) == 0 else None
        finals = []
        for l, cell in enumerate(self.cells):
            w, s = self.weights(l, 0), tuple(e[l] for e in state0)
            s = cell.step(x, s, w) if mode is None else native_cell_step(mode, x, s, w)
            finals.append(s)
            x = s[0]
        final = tuple(torch.stack(entry) for entry in zip(*finals, strict=True))  # (L, B, size)
        if self.stateful:
            self._carry, self._reset_rows = tuple(f.detach() for f in final), None
        if unbatched:
            x, final = x.squeeze(0), tuple(f.squeeze(1) for f in final)
        return x, self._join_state(final)

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
