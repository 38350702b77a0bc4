"""Every fused kernel against the reference cell loop: outputs, final states, per-step states and the
gradients of the input, the initial state and every weight, over a grid of options, in every
engine of the time loops (compiled C++, Triton — under its interpreter when there is no GPU — and
PyTorch ops); and gradcheck in float64."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import pytest
import torch
from torch import Tensor

from rnnkit.activations import get_activation
from rnnkit.cells import CellMath, ElmanMath, GRUMath, JordanMath, LSTMMath
from rnnkit.kernels import fused_kernel_for, fused_unfusable, length_mask, run_reference
from rnnkit.kernels.engines import loop_engine, triton_usable, use_engine
from rnnkit.kernels.fused_c import clib
from rnnkit.kernels.reference import SequenceResult

T, B, I = 6, 4, 3
tanh, sig = get_activation("tanh"), get_activation("sigmoid")
ACTS = {
    "tanh/sigmoid": (tanh, sig),
    "softsign/hard_sigmoid_keras2": (
        get_activation("softsign"),
        get_activation("hard_sigmoid_keras2"),
    ),
    "relu/hard_sigmoid_keras3": (get_activation("relu"), get_activation("hard_sigmoid_keras3")),
}


def lstm_cells() -> dict[str, CellMath]:
    """Every structure with tanh/sigmoid; two structures with each other pair of activations."""
    cells: dict[str, CellMath] = {}
    for (name, (act, rec)), peephole, coupled, proj in itertools.product(
        ACTS.items(), [False, True], [False, True], [0, 2]
    ):
        if name != "tanh/sigmoid" and (peephole, coupled, proj) not in [(1, 0, 2), (0, 1, 0)]:
            continue
        cells[f"lstm-{name}-peep{peephole:d}-coup{coupled:d}-proj{proj}"] = LSTMMath(
            I, 5, act, rec, proj_size=proj, peephole=peephole, coupled=coupled
        )
    return cells


CELLS: dict[str, CellMath] = {
    **lstm_cells(),
    **{
        f"gru-{name}-after{after:d}": GRUMath(I, 5, act, rec, reset_after=after)
        for (name, (act, rec)), after in itertools.product(ACTS.items(), [True, False])
    },
    **{f"elman-{a}": ElmanMath(I, 5, get_activation(a)) for a in ["tanh", "relu", "softsign"]},
    **{
        f"jordan-hh{hh:d}-yh{yh:d}-yy{yy:d}": JordanMath(I, 5, 2, tanh, sig, hh, yh, yy)
        for hh, yh, yy in itertools.product([False, True], repeat=3)
        if hh or yh or yy
    },
}
# lengths, recurrent dropout, per-step states: none, each alone, and all together
OPTIONS = [(False, False, False), (True, False, False), (False, True, False), (True, True, True)]
# Each engine's tests run where that engine runs: Triton on the GPU when there is one, else on
# the CPU under Triton's interpreter (the root conftest.py sets TRITON_INTERPRET=1 then).
DEVICE = {"c": "cpu", "torch": "cpu", "triton": "cuda" if torch.cuda.is_available() else "cpu"}
TRITON = pytest.mark.skipif(
    not triton_usable(torch.zeros(1, device=DEVICE["triton"]), [tanh]),
    reason="Triton is not installed (pip install triton)",
)
IMPLS = ["c", "torch", pytest.param("triton", marks=TRITON)]


def moved(t: Tensor, device: str) -> Tensor:
    """A leaf with ``t``'s numbers on ``device``."""
    return t.detach().to(device).requires_grad_(t.requires_grad)


def make_inputs(
    cell: CellMath,
    dtype: torch.dtype,
    lengths: bool,
    dropout: bool,
    T: int = T,
    B: int = B,
    device: str = "cpu",
) -> tuple[
    Tensor, tuple[Tensor, ...], dict[str, Tensor], Tensor | None, list[Tensor | None] | None
]:
    g = torch.Generator().manual_seed(0)

    def rand(*shape: int, scale: float = 0.5) -> Tensor:
        return (torch.randn(shape, generator=g, dtype=dtype) * scale).requires_grad_()

    w = {n: rand(*spec.shape) for n, spec in cell.weight_specs(True).items()}
    x = rand(T, B, cell.input_size, scale=1.0)
    state = tuple(rand(B, n) for n in cell.state_sizes)
    mask = length_mask(torch.tensor([T, 0, 2, T - 1][:B]), T) if lengths else None
    drop = None
    if dropout:
        drop = [
            torch.bernoulli(torch.full((B, n), 0.7, dtype=dtype), generator=g) / 0.7 if ok else None
            for n, ok in zip(cell.state_sizes, cell.droppable, strict=True)
        ]
    if device != "cpu":  # the same numbers, moved: the leaves stay leaves
        x, state = moved(x, device), tuple(moved(s, device) for s in state)
        w = {n: moved(t, device) for n, t in w.items()}
        mask = None if mask is None else mask.to(device)
        drop = None if drop is None else [None if d is None else d.to(device) for d in drop]
    return x, state, w, mask, drop


def results_and_grads(
    kernel: Callable[..., SequenceResult],
    cell: CellMath,
    inputs: tuple[Tensor, Sequence[Tensor], dict[str, Tensor], Tensor | None, object],
    keep_steps: bool,
) -> list[Tensor]:
    """Every output of the kernel, then the gradient of a weighted sum of them w.r.t. every leaf."""
    x, state, w, mask, drop = inputs
    res = kernel(cell, x, tuple(state), w, mask, drop, keep_steps)
    outs = [res.output, *res.final, *(res.steps or ())]
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    leaves = [x, *state, *w.values()]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    return [o.detach() for o in outs] + [
        torch.zeros_like(p) if d is None else d for d, p in zip(grads, leaves, strict=True)
    ]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("lengths", "dropout", "keep_steps"), OPTIONS)
@pytest.mark.parametrize("name", list(CELLS))
def test_fused_equals_reference_float32(
    name: str, lengths: bool, dropout: bool, keep_steps: bool, impl: str
) -> None:
    cell = CELLS[name]
    kernel = fused_kernel_for(cell)
    assert kernel is not None
    inputs = make_inputs(cell, torch.float32, lengths, dropout, device=DEVICE[impl])
    want = results_and_grads(run_reference, cell, inputs, keep_steps)
    with use_engine(impl):
        assert loop_engine(inputs[0], cell) == impl  # the engine under test really runs
        got = results_and_grads(kernel, cell, inputs, keep_steps)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


GRADCHECK: dict[str, CellMath] = {  # tiny sizes: T=4, B=3, I=2, H=3
    "lstm": LSTMMath(2, 3, tanh, sig),
    "lstm-peephole-proj": LSTMMath(2, 3, tanh, sig, proj_size=2, peephole=True),
    "lstm-coupled-peephole-softsign": LSTMMath(
        2, 3, get_activation("softsign"), sig, peephole=True, coupled=True
    ),
    "gru-reset-after": GRUMath(2, 3, tanh, sig, reset_after=True),
    "gru-reset-before": GRUMath(2, 3, tanh, sig, reset_after=False),
    "elman-tanh": ElmanMath(2, 3, tanh),
    "jordan-all-three": JordanMath(2, 3, 2, tanh, sig, True, True, True),
    "jordan-pure": JordanMath(2, 3, 2, tanh, tanh),
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", list(GRADCHECK))
def test_fused_gradcheck_float64(name: str, impl: str) -> None:
    """Finite differences on every input, initial state and weight, with lengths and dropout."""
    cell = GRADCHECK[name]
    kernel = fused_kernel_for(cell)
    assert kernel is not None
    x, state, w, mask, drop = make_inputs(
        cell, torch.float64, True, True, T=4, B=3, device=DEVICE[impl]
    )
    names = list(w)
    n_state = len(state)

    def fn(x: Tensor, *leaves: Tensor) -> tuple[Tensor, ...]:
        st, ws = leaves[:n_state], dict(zip(names, leaves[n_state:], strict=True))
        res = kernel(cell, x, st, ws, mask, drop, True)
        return (res.output, *res.final, *(res.steps or ()))

    # Under Triton's interpreter every launch costs milliseconds: the fast mode checks random
    # projections of the Jacobian instead of every column (the analytic side is still exact).
    fast = impl == "triton" and not x.is_cuda
    with use_engine(impl):
        assert loop_engine(x, cell) == impl
        assert torch.autograd.gradcheck(
            fn, (x, *state, *w.values()), eps=1e-6, atol=1e-6, fast_mode=fast
        )


def test_the_compiled_loops_build_here() -> None:
    """The C++ loops build with this machine's compiler (the other tests then exercise them)."""
    assert clib(torch.zeros(1)) is not None


def test_fused_runs_bfloat16_in_torch_loops() -> None:
    """No compiled loop for bfloat16: the PyTorch loops run it, close to the float32 result."""
    cell = CELLS["lstm-tanh/sigmoid-peep1-coup0-proj0"]
    kernel = fused_kernel_for(cell)
    assert kernel is not None and clib(torch.zeros(1, dtype=torch.bfloat16)) is None
    x, state, w, _, _ = make_inputs(cell, torch.float32, False, False)
    ref = run_reference(cell, x, state, w).output
    bf = {n: t.bfloat16() for n, t in w.items()}
    got = kernel(cell, x.bfloat16(), tuple(s.bfloat16() for s in state), bf).output
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), ref, atol=0.05, rtol=0.05)


def test_zero_steps_return_the_initial_state() -> None:
    cell = CELLS["gru-tanh/sigmoid-after1"]
    kernel = fused_kernel_for(cell)
    assert kernel is not None
    x, state, w, _, _ = make_inputs(cell, torch.float32, False, False)
    res = kernel(cell, x[:0], state, w, None, None, True)
    assert res.output.shape == (0, B, 5) and res.final[0] is state[0]
    assert res.steps is not None and res.steps[0].shape == (0, B, 5)


def test_unfusable_cells_name_their_option() -> None:
    custom = get_activation(lambda v: torch.tanh(v) * 0.5)
    assert fused_kernel_for(LSTMMath(I, 5, tanh, custom)) is None
    assert "recurrent_activation=" in str(fused_unfusable(LSTMMath(I, 5, tanh, custom)))
    assert "nonlinearity=" in str(fused_unfusable(ElmanMath(I, 5, custom)))
    assert "output_activation=" in str(fused_unfusable(JordanMath(I, 5, 2, tanh, custom)))
    assert fused_unfusable(GRUMath(I, 5, tanh, sig)) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["lstm-tanh/sigmoid-peep1-coup0-proj0", "gru-tanh/sigmoid-after0"])
def test_triton_half_precision_on_the_gpu(name: str, dtype: torch.dtype) -> None:
    """In half precision the Triton kernels compute the gates in float32 and store halves: close
    to the float32 reference, forward and backward."""
    cell = CELLS[name]
    kernel = fused_kernel_for(cell)
    assert kernel is not None
    x, state, w, mask, _ = make_inputs(cell, torch.float32, True, False, device="cuda")
    want = results_and_grads(run_reference, cell, (x, state, w, mask, None), False)
    half = lambda t: t.detach().to(dtype).requires_grad_()  # noqa: E731
    inputs = (
        half(x),
        tuple(half(s) for s in state),
        {n: half(t) for n, t in w.items()},
        mask,
        None,
    )
    with use_engine("triton"):
        assert loop_engine(inputs[0], cell) == "triton"
        got = results_and_grads(kernel, cell, inputs, False)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a.float(), b, atol=0.05, rtol=0.05)
