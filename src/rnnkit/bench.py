"""Side-by-side timings of every layer variant against ``torch.nn.LSTM`` and against the naive loop.

For each size it measures, in one round-robin over every variant and baseline per repeat (so
load on the machine hits all of them alike), the median wall-clock time of

* the rnnkit layer with its automatic kernel choice (``native``, ``fused`` or ``reference``),
* the same layer with ``backend="reference"`` — the naive autograd loop over time that users
  write for a custom cell,
* ``torch.nn.LSTM`` of the same size, and for the standard GRU and RNN ``torch.nn.GRU``/``RNN``,

each for a forward pass (under ``no_grad``) and a training step (forward + ``backward`` of the
summed output), all in training mode. The clock is wall time, or the process's CPU time
(``time.process_time``), which a busy shared machine disturbs far less but which only means
elapsed time with one thread. Memory is the bytes autograd saves for backward during the
forward pass (via :func:`torch.autograd.graph.saved_tensors_hooks`, each storage counted once):
the part of a training step's peak that the kernel decides, and exact, unlike process RSS.

It also times one generation step (:meth:`RecurrentLayer.step`) against ``torch.nn.LSTM`` on a
length-1 input.

>>> rows = run_bench([Size(3, 2, 4, 8)], ["lstm_peephole"], repeats=1)
>>> rows[0]["variant"], rows[0]["kernel"], rows[0]["fwdbwd_ms"] > 0
('lstm_peephole', 'fused', True)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .kernels.fused_c import clib
from .layers import GRU, LSTM, RNN, JordanRNN, RecurrentLayer

__all__ = [
    "DEFAULT_SIZES",
    "VARIANTS",
    "Size",
    "bench_step",
    "compiled_loops",
    "run_bench",
    "saved_bytes",
]


@dataclass(frozen=True)
class Size:
    """One problem size: ``T`` steps, ``B`` batch, ``I`` inputs, ``H`` hidden units."""

    T: int
    B: int
    I: int
    H: int

    def __str__(self) -> str:
        return f"T={self.T},B={self.B},I={self.I},H={self.H}"


DEFAULT_SIZES = [Size(100, 32, 64, 256), Size(100, 64, 512, 512)]

Factory = Callable[[int, int, str], RecurrentLayer]
# name -> layer(I, H, backend). The first three are torch's own configurations.
VARIANTS: dict[str, Factory] = {
    "lstm": lambda i, h, b: LSTM(i, h, backend=b),
    "gru": lambda i, h, b: GRU(i, h, backend=b),
    "rnn_tanh": lambda i, h, b: RNN(i, h, backend=b),
    "lstm_fused": lambda i, h, b: LSTM(i, h, backend="fused" if b == "auto" else b),
    "lstm_peephole": lambda i, h, b: LSTM(i, h, peephole=True, backend=b),
    "lstm_coupled": lambda i, h, b: LSTM(i, h, coupled=True, backend=b),
    "lstm_hard_sigmoid": lambda i, h, b: LSTM(
        i, h, recurrent_activation="hard_sigmoid_keras2", backend=b
    ),
    "lstm_recurrent_dropout": lambda i, h, b: LSTM(i, h, recurrent_dropout=0.25, backend=b),
    "gru_reset_before": lambda i, h, b: GRU(i, h, reset_after=False, backend=b),
    "rnn_softsign": lambda i, h, b: RNN(i, h, nonlinearity="softsign", backend=b),
    "jordan": lambda i, h, b: JordanRNN(i, h, h, backend=b),
}
# The torch.nn module that computes exactly the same thing, where there is one.
TORCH_TWINS: dict[str, Callable[[int, int], nn.Module]] = {
    "gru": nn.GRU,
    "rnn_tanh": nn.RNN,
}


@contextmanager
def _counting_saved(total: list[int]) -> Iterator[None]:
    seen: set[int] = set()

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total[0] += storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield


def saved_bytes(module: nn.Module, x: Tensor) -> int:
    """Bytes autograd keeps for backward after ``module(x)`` (each storage once)."""
    total = [0]
    with _counting_saved(total):
        out = module(x)
    del out
    return total[0]


def _output(result: Any) -> Tensor:
    return result[0] if isinstance(result, tuple) else result


def _train_step(module: nn.Module, x: Tensor) -> Callable[[], None]:
    def run() -> None:
        _output(module(x)).sum().backward()

    return run


def _forward(module: nn.Module, x: Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            module(x)

    return run


Clock = Callable[[], float]


def _medians(
    fns: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: int = 1,
    clock: Clock = time.perf_counter,
) -> dict[str, float]:
    """Median milliseconds of each function, measured round-robin so they share the conditions."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = clock()
            fn()
            times[k].append((clock() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def run_bench(
    sizes: Sequence[Size] = DEFAULT_SIZES,
    variants: Sequence[str] = tuple(VARIANTS),
    repeats: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    clock: Clock = time.perf_counter,
) -> list[dict[str, Any]]:
    """One row per size and variant; times in milliseconds (medians), memory in bytes.

    Ratios: ``vs_lstm`` = rnnkit time / ``torch.nn.LSTM`` time (below 1 is faster), ``vs_torch``
    = rnnkit time / the time of the ``torch.nn`` module computing the same (``None`` for variants
    torch lacks), ``vs_naive`` = naive loop time / rnnkit time (the speed-up).
    """
    rows: list[dict[str, Any]] = []
    for size in sizes:
        torch.manual_seed(seed)
        x = torch.randn(size.T, size.B, size.I)
        lstm = nn.LSTM(size.I, size.H).train()
        fns = {"lstm_fwd": _forward(lstm, x), "lstm_fwdbwd": _train_step(lstm, x)}
        layers = {}
        for name in variants:
            if name in TORCH_TWINS:
                twin = TORCH_TWINS[name](size.I, size.H).train()
                fns |= {
                    f"{name}:torch_fwd": _forward(twin, x),
                    f"{name}:torch_fwdbwd": _train_step(twin, x),
                }
            ours = VARIANTS[name](size.I, size.H, "auto").train()
            naive = VARIANTS[name](size.I, size.H, "reference").train()
            naive.load_state_dict(ours.state_dict())
            layers[name] = (ours, naive)
            fns |= {
                f"{name}:fwd": _forward(ours, x),
                f"{name}:fwdbwd": _train_step(ours, x),
                f"{name}:naive_fwd": _forward(naive, x),
                f"{name}:naive_fwdbwd": _train_step(naive, x),
            }
        if progress is not None:
            progress(f"{size}: {len(fns)} measurements x {repeats + 1}")
        ms = _medians(fns, repeats, clock=clock)  # one round-robin over everything at this size
        lstm_saved = saved_bytes(lstm, x)
        for name, (ours, naive) in layers.items():
            m = {k.split(":")[1]: v for k, v in ms.items() if k.startswith(f"{name}:")}
            m |= {"lstm_fwd": ms["lstm_fwd"], "lstm_fwdbwd": ms["lstm_fwdbwd"]}
            if name in ("lstm", "lstm_fused"):  # torch.nn.LSTM is the twin
                m |= {"torch_fwd": ms["lstm_fwd"], "torch_fwdbwd": ms["lstm_fwdbwd"]}
            rows.append(
                {
                    "size": str(size),
                    "variant": name,
                    "kernel": ours._select_kernel(False),
                    "repeats": repeats,
                    "threads": torch.get_num_threads(),
                    **{f"{k}_ms": round(v, 3) for k, v in m.items()},
                    "fwd_vs_lstm": round(m["fwd"] / m["lstm_fwd"], 3),
                    "fwdbwd_vs_lstm": round(m["fwdbwd"] / m["lstm_fwdbwd"], 3),
                    "fwd_vs_naive": round(m["naive_fwd"] / m["fwd"], 3),
                    "fwdbwd_vs_naive": round(m["naive_fwdbwd"] / m["fwdbwd"], 3),
                    "fwdbwd_vs_torch": (
                        round(m["fwdbwd"] / m["torch_fwdbwd"], 3) if "torch_fwdbwd" in m else None
                    ),
                    "fwd_vs_torch": (
                        round(m["fwd"] / m["torch_fwd"], 3) if "torch_fwd" in m else None
                    ),
                    "saved_bytes": saved_bytes(ours, x),
                    "naive_saved_bytes": saved_bytes(naive, x),
                    "lstm_saved_bytes": lstm_saved,
                }
            )
    return rows


def bench_step(
    size: Size, repeats: int = 200, seed: int = 0, clock: Clock = time.perf_counter
) -> dict[str, Any]:
    """Per-step latency (microseconds, median) of :meth:`RecurrentLayer.step` for a standard and a
    peephole LSTM against ``torch.nn.LSTM`` on a length-1 input, batch ``B``, inference."""
    torch.manual_seed(seed)
    ref = nn.LSTM(size.I, size.H).eval()
    ours = LSTM(size.I, size.H).eval()
    ours.load_state_dict(ref.state_dict())
    peephole = LSTM(size.I, size.H, peephole=True).eval()
    x = torch.randn(size.B, size.I)
    h = (torch.zeros(1, size.B, size.H), torch.zeros(1, size.B, size.H))
    fns: dict[str, Callable[[], object]] = {
        "nn_lstm_len1": lambda: ref(x[None], h),
        "step": lambda: ours.step(x, h),
        "peephole_step": lambda: peephole.step(x, h),
    }
    with torch.no_grad():
        ms = _medians(fns, repeats, warmup=10, clock=clock)
    us = {k: round(v * 1e3, 1) for k, v in ms.items()}
    return {
        "size": f"B={size.B},I={size.I},H={size.H}",
        **{f"{k}_us": v for k, v in us.items()},
        "step_vs_lstm": round(us["step"] / us["nn_lstm_len1"], 3),
        "peephole_step_vs_lstm": round(us["peephole_step"] / us["nn_lstm_len1"], 3),
    }


def compiled_loops() -> bool:
    """Whether the fused kernels run their compiled C++ loops here (else PyTorch loops)."""
    return clib(torch.zeros(1)) is not None
