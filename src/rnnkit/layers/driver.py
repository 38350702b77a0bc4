"""The sequence driver every rnnkit layer runs on.

:class:`SequenceModule` owns everything between a user's call and a kernel: checking the input,
the initial state (given, learned, zeros or carried), the kernel choice
(:func:`~rnnkit.kernels.choose_kernel`), variational dropout masks, running the stack (torch's own
kernel, or :func:`~rnnkit.kernels.run_stack` over a fused or reference kernel) and returning the
result in ``torch.nn``'s format. It never knows gate math, and it does not care where the weights
live: :class:`~rnnkit.layers.RecurrentLayer` keeps them under torch's names (``weight_ih_l0``),
:class:`~rnnkit.layers.Recurrent` in cell modules; each says so through :meth:`weights`.

Shapes: ``T`` steps, ``B`` batch, ``I`` input, ``L`` layers, ``D`` directions, ``O`` output units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..cells.base import CellMath, Gates, State, Weights
from ..kernels import (
    BACKENDS,
    KernelChoice,
    RunRequest,
    choose_kernel,
    native_blocker,
    native_mode,
    run_native,
    run_native_packed,
    run_stack,
)
from ..kernels.native import NativeMode, native_cell_step
from .inputs import check_state, check_step_input, prepare_input, repack
from .state import StateCarry

__all__ = ["SequenceModule"]


class SequenceModule(nn.Module):
    """A stack of ``len(cells)`` layers in one or two directions, run over sequences.

    Subclasses provide the weights (:meth:`weights`, and ``bias``); everything else is here.

    Args:
        cells: the math of each layer (the same options; input sizes ``I`` then ``D*O``).
        batch_first: input and output ``(B, T, ...)`` instead of ``(T, B, ...)``.
        dropout: on each layer's output except the last, in training mode (torch's ``dropout``).
        bidirectional: a second, reversed direction per layer; outputs concatenated.
        input_dropout, recurrent_dropout: variational dropout (Gal & Ghahramani 2016), one mask
            per sequence on each layer's input and on the recurrent state, in training mode.
        stateful: carry each row's final state (detached) into the next call; see
            :meth:`reset_state`.
        backend: ``"auto"``, ``"native"``, ``"fused"`` or ``"reference"``
            (see :func:`~rnnkit.kernels.choose_kernel`).
    """

    state_names: tuple[str, ...] = ("h",)
    bias: bool = True
    learn_init: bool = False

    def __init__(
        self,
        cells: Sequence[CellMath],
        *,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        stateful: bool = False,
        backend: str = "auto",
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
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.input_dropout = float(input_dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.stateful = stateful
        self.backend = backend
        self._state = StateCarry()
        self._warned: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        """Plain data for pickling, so ``torch.load(..., weights_only=True)`` needs no class but
        the module's and its cells': the carry as a tuple, no warned-once set."""
        state = dict(super().__getstate__())
        state.pop("_warned", None)
        carry = state.pop("_state")
        state["_carried"] = (carry.state, carry.reset_rows)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        carry = StateCarry()
        carry.state, carry.reset_rows = state.pop("_carried", (None, None))
        super().__setstate__(state)
        self._state = carry
        self._warned = set()

    # ----- weights (where they live is the subclass's business) -------------------------------

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def weights(self, layer: int, direction: int) -> Weights:
        """The weights of one layer and direction, named as the cell names them."""
        raise NotImplementedError

    def _flat_weights(self) -> list[Tensor]:
        """All weights in ``torch.nn``'s order (layer, direction, then ih, hh, biases, hr)."""
        return [
            self.weights(l, d)[name]
            for l, cell in enumerate(self.cells)
            for d in range(self.num_directions)
            for name in cell.weight_specs(self.bias)
        ]

    # ----- state ------------------------------------------------------------------------------

    @property
    def _carry(self) -> State | None:
        return self._state.state

    def reset_state(self, mask: Tensor | Sequence[bool] | None = None) -> None:
        """Forget the carried state of a ``stateful`` layer: all rows, or the rows where ``mask`` is True.

        Reset rows start the next call from the initial state (zeros, or the learned one).
        """
        self._state.reset(type(self).__name__, mask)

    def _state_shapes(self, B: int) -> list[tuple[int, ...]]:
        n = self.num_layers * self.num_directions
        return [(n, B, size) for size in self.cells[0].state_sizes]

    def _default_state(self, B: int, x: Tensor) -> State:
        """The state a call starts from when none is given or carried (zeros here)."""
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
        return self._state.start(name, init) if self.stateful else init

    # ----- kernel choice ----------------------------------------------------------------------

    def native_mode(self) -> NativeMode | None:
        """The ``torch._VF`` kernel that computes exactly this configuration, if there is one."""
        return native_mode(self.cells[0])

    def variant_reason(self) -> str | None:
        """The option that keeps this layer off torch's native kernel, or ``None``."""
        return native_blocker(self.cells[0])

    def _choose(self, keep_steps: bool, keep_gates: bool = False) -> KernelChoice:
        run = RunRequest(
            self.training,
            self.input_dropout,
            self.recurrent_dropout,
            keep_steps=keep_steps,
            keep_gates=keep_gates,
        )
        # warn at the user's line: choose_kernel < _choose < forward < _call_impl < __call__ < user
        return choose_kernel(
            type(self).__name__, self.cells[0], self.backend, run, self._warned, stacklevel=5
        )

    def _select_kernel(self, keep_steps: bool) -> str:
        """``"native"``, ``"fused"`` or ``"reference"``: the kernel a forward call would run."""
        return self._choose(keep_steps).name

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
        return_gates: bool = False,
    ) -> Any:
        """Run the layer.

        Args:
            input: ``(T, B, I)`` (``(B, T, I)`` with ``batch_first``), unbatched ``(T, I)``, or a
                PackedSequence; ``T`` at least 1.
            hx: initial state as ``torch.nn`` takes it (``h_0``, or a tuple such as ``(h_0, c_0)``),
                each ``(L*D, B, size)``; zeros (or the learned/carried state) when omitted.
            lengths: ``(B,)`` valid length of each row; outputs past it are zeros and the final
                state is the state at the last valid step (the initial state for length 0).
            return_states: also return every step's state, one tensor per state entry shaped
                ``(L*D, T, B, size)`` (``(L*D, B, T, size)`` with ``batch_first``).
            return_gates: also return every step's gate values, a dict ``{gate: tensor}`` in the
                cell's order — LSTM ``i, f, g, o`` (CIFG: ``i`` is ``1 - f``; with peepholes
                the gates include them), GRU ``r, z, n`` (``n`` the candidate state) — each
                ``(L*D, T, B, H)`` like the states, zero past each length; ``{}`` for the
                gateless Elman and Jordan cells. They are the reference cell's values,
                recomputed from the per-step states (see
                :func:`~rnnkit.kernels.reference.gates_from_steps`).

        Returns:
            ``(output, h_n)`` as ``torch.nn`` returns them (``h_n`` a tuple for LSTM and
            JordanRNN), then the per-step states if ``return_states``, then the gates if
            ``return_gates``.
        """
        name = type(self).__name__
        prep = prepare_input(name, input, lengths, self.input_size, self.batch_first)
        x, lens = prep.x, prep.lengths
        B = x.shape[1]
        state0 = self._initial_state(hx, B, x, prep.unbatched)
        steps: State | None = None
        gates: Gates | None = None
        choice = self._choose(return_states, return_gates)
        if choice.kernel is None:
            output, final = self._run_native(x, state0, lens, prep.packed)
        else:
            in_masks, rec_masks = self._dropout_masks(B, x)
            D = self.num_directions
            out, final, steps, gates = run_stack(
                self.cells,
                [[self.weights(l, d) for d in range(D)] for l in range(self.num_layers)],
                x,
                state0,
                lens,
                choice.kernel,
                dropout=self.dropout,
                training=self.training,
                input_masks=in_masks,
                drop_masks=rec_masks,
                keep_steps=return_states,
                keep_gates=return_gates,
            )
            output = repack(out, prep.packed) if prep.packed is not None else out
        if self.stateful:
            self._state.keep(final)
        self._on_output(output)
        if isinstance(output, Tensor):
            if prep.unbatched:
                output = output.squeeze(1)
            elif self.batch_first:
                output = output.transpose(0, 1)
        if prep.unbatched:
            final = tuple(f.squeeze(1) for f in final)
        result: tuple[Any, ...] = (output, self._join_state(final))
        if return_states:
            assert steps is not None
            result += (tuple(self._per_step(s, prep.unbatched) for s in steps),)
        if return_gates:
            assert gates is not None
            result += ({n: self._per_step(g, prep.unbatched) for n, g in gates.items()},)
        return result

    def _per_step(self, t: Tensor, unbatched: bool) -> Tensor:
        """``(L*D, T, B, size)`` into the caller's layout."""
        if unbatched:
            return t.squeeze(2)  # (L*D, T, size)
        return t.transpose(1, 2) if self.batch_first else t

    def _on_output(self, output: Tensor | PackedSequence) -> None:
        """Called with each forward's output (time-major or packed), before it is returned."""

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
        mode = native_mode(self.cells[0], RunRequest(single_step=True))
        finals = []
        for l, cell in enumerate(self.cells):
            w, s = self.weights(l, 0), tuple(e[l] for e in state0)
            s = cell.step(x, s, w) if mode is None else native_cell_step(mode, x, s, w)
            finals.append(s)
            x = s[0]
        final = tuple(torch.stack(entry) for entry in zip(*finals, strict=True))  # (L, B, size)
        if self.stateful:
            self._state.keep(final)
        if unbatched:
            x, final = x.squeeze(0), tuple(f.squeeze(1) for f in final)
        return x, self._join_state(final)
