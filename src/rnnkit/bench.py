"""Side-by-side timings of every layer variant against ``torch.nn.LSTM`` and against the naive loop.

For each size it measures, in one round-robin over every variant and baseline per repeat (so
load on the machine hits all of them alike), the median time of

* the rnnkit layer with its automatic kernel choice (``native``, ``fused`` or ``reference``) —
  or, with ``engines``, a fused layer once per loop engine (:mod:`rnnkit.kernels.engines`: ``c``
  and ``torch`` on the CPU, ``triton`` and ``torch`` on CUDA), side by side;
* the same layer with ``backend="reference"`` — the naive autograd loop over time that users
  write for a custom cell — and, with ``compile_mode``, that loop under ``torch.compile``;
* with ``graphs`` (CUDA only), each fused row again with its forward and backward captured as
  CUDA graphs (:func:`torch.cuda.make_graphed_callables` on a copy of the layer), so a step's
  dozens of launches replay as one: engine ``<engine>+graphs``;
* ``torch.nn.LSTM`` of the same size (cuDNN's on a GPU), and for the standard GRU and RNN
  ``torch.nn.GRU``/``RNN``,

each for a forward pass (under ``no_grad``) and a training step (forward + ``backward`` of the
summed output), all in training mode, on one device. The clock is wall time, or the process's
CPU time (``time.process_time``), which a busy shared machine disturbs far less but which only
means elapsed time with one thread on the CPU. On a GPU every timed call is bracketed by
``torch.cuda.synchronize``, and the warm-up calls before timing (two there) absorb Triton's and
cuDNN's first-call compilation and autotuning. Memory is the bytes autograd saves for backward
during the forward pass (via :func:`torch.autograd.graph.saved_tensors_hooks`, each storage
counted once): the part of a training step's peak that the kernel decides, and exact, unlike
process RSS.

It also times one generation step (:meth:`RecurrentLayer.step`) against ``torch.nn.LSTM`` on a
length-1 input.

Shapes: ``T`` steps, ``B`` batch, ``I`` inputs, ``H`` hidden units.

>>> rows = run_bench([Size(3, 2, 4, 8)], ["lstm_peephole"], repeats=1)
>>> rows[0]["variant"], rows[0]["kernel"], rows[0]["fwdbwd_ms"] > 0
('lstm_peephole', 'fused', True)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from . import timing
from .kernels.fused_c import clib
from .layers import GRU, LSTM, RNN, JordanRNN, RecurrentLayer
from .timing import Clock, available_engines, compiled_loops, ran_engine, saved_bytes

__all__ = [
    "COMPILE_MODES",
    "DEFAULT_SIZES",
    "VARIANTS",
    "Size",
    "available_engines",
    "bench_step",
    "compiled_loops",
    "engine_errors",
    "ran_engine",
    "run_bench",
    "saved_bytes",
    "target_misses",
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
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

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


# ----- the benchmark ----------------------------------------------------------------------------


@dataclass
class _Variant:
    """One variant at one size: its layers, and the engines its rows run (``None``: automatic)."""

    name: str
    ours: RecurrentLayer
    naive: RecurrentLayer
    kernel: str
    engines: dict[str | None, str | None]  # engine that runs -> engine requested; None: none


def _plan(
    name: str, size: Size, x: Tensor, engines: Sequence[str] | None, device: torch.device
) -> _Variant:
    ours = VARIANTS[name](size.I, size.H, "auto").to(device).train()
    naive = VARIANTS[name](size.I, size.H, "reference").to(device).train()
    naive.load_state_dict(ours.state_dict())
    kernel = ours._select_kernel(False)
    runs: dict[str | None, str | None] = {None: None}  # torch's kernel or the reference loop
    if kernel == "fused":
        runs = {}
        for requested in engines if engines is not None else [None]:
            # a family without the requested engine runs another one: time that one once
            runs.setdefault(timing.engine_of(ours, x, requested), requested)
    return _Variant(name, ours, naive, kernel, runs)


def run_bench(
    sizes: Sequence[Size] = DEFAULT_SIZES,
    variants: Sequence[str] = tuple(VARIANTS),
    repeats: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    clock: Clock = time.perf_counter,
    device: torch.device | str = "cpu",
    engines: Sequence[str] | None = None,
    compile_mode: str | None = None,
    graphs: bool = False,
) -> list[dict[str, Any]]:
    """One row per size, variant and engine; times in milliseconds (medians), memory in bytes.

    Args:
        engines: time each fused variant once per engine named (each row's ``engine`` is the
            one that really ran); ``None``: the automatic choice only.
        compile_mode: also time the naive loop under ``torch.compile(mode=...)``; the first
            calls, which compile, are reported as ``compile_s`` and not timed.
        graphs: also time each fused engine row under CUDA graphs (a row per engine, named
            ``<engine>+graphs``; a capture that fails leaves ``graphs_error`` on its engine's row).

    Ratios: ``vs_lstm`` = rnnkit time / ``torch.nn.LSTM`` time (below 1 is faster), ``vs_torch``
    = rnnkit time / the time of the ``torch.nn`` module computing the same (``None`` for variants
    torch lacks), ``vs_naive`` = naive loop time / rnnkit time (the speed-up), ``vs_compiled`` =
    rnnkit time / the compiled naive loop's.
    """
    dev = torch.device(device)
    sync = timing.synchronizer(dev)
    warmup = 1 if dev.type == "cpu" else 2
    rows: list[dict[str, Any]] = []
    for size in sizes:
        torch.manual_seed(seed)
        x = torch.randn(size.T, size.B, size.I, device=dev)
        lstm = nn.LSTM(size.I, size.H).to(dev).train()
        fns: dict[tuple[str, str, str], Callable[[], None]] = {
            ("nn.LSTM", "twin", "fwd"): timing.forward(lstm, x),
            ("nn.LSTM", "twin", "fwdbwd"): timing.train_step(lstm, x),
        }
        plans = [_plan(name, size, x, engines, dev) for name in variants]
        compiled: dict[str, dict[str, Any]] = {}  # variant -> compile_s or compile_error
        graphed: dict[tuple[str, str | None], dict[str, Any]] = {}  # -> graphs_error, if any
        for v in plans:
            if v.name in TORCH_TWINS:
                twin = TORCH_TWINS[v.name](size.I, size.H).to(dev).train()
                fns[v.name, "twin", "fwd"] = timing.forward(twin, x)
                fns[v.name, "twin", "fwdbwd"] = timing.train_step(twin, x)
            for ran, requested in v.engines.items():
                fns[v.name, f"ours:{ran}", "fwd"] = timing.under(
                    requested, timing.forward(v.ours, x)
                )
                fns[v.name, f"ours:{ran}", "fwdbwd"] = timing.under(
                    requested, timing.train_step(v.ours, x)
                )
                if graphs and v.kernel == "fused":
                    graphed_fns, graphed[v.name, ran] = _graphed(v.ours, x, requested, sync)
                    fns |= {(v.name, f"ours:{ran}+graphs", k): f for k, f in graphed_fns.items()}
            fns[v.name, "naive", "fwd"] = timing.forward(v.naive, x)
            fns[v.name, "naive", "fwdbwd"] = timing.train_step(v.naive, x)
            if compile_mode is not None:
                if progress is not None:
                    progress(f"{size}: compiling the naive {v.name} loop ({compile_mode})")
                compiled_fns, compiled[v.name] = _compiled(v.naive, x, compile_mode, sync)
                fns |= {(v.name, "compiled", mode): fn for mode, fn in compiled_fns.items()}
        if progress is not None:
            progress(f"{size} on {dev}: {len(fns)} measurements x {warmup + repeats}")
        ms = timing.medians(
            fns, repeats, warmup, clock, sync
        )  # one round-robin over all at this size
        lstm_saved = saved_bytes(lstm, x)
        parts: dict[tuple[str, str], dict[str, float]] = {}
        for (name, part, mode), t in ms.items():
            parts.setdefault((name, part), {})[mode] = t
        for v in plans:
            m = {f"lstm_{mode}": t for mode, t in parts["nn.LSTM", "twin"].items()}
            for part, prefix in [
                ("naive", "naive_"),
                ("twin", "torch_"),
                ("compiled", "compiled_"),
            ]:
                m |= {prefix + mode: t for mode, t in parts.get((v.name, part), {}).items()}
            if v.name in ("lstm", "lstm_fused"):  # torch.nn.LSTM is the twin
                m |= {"torch_fwd": m["lstm_fwd"], "torch_fwdbwd": m["lstm_fwdbwd"]}
            naive_saved = saved_bytes(v.naive, x)
            for ran, requested in v.engines.items():
                with timing.on_engine(requested):
                    saved = saved_bytes(v.ours, x)
                saved_row = {"saved_bytes": saved, "naive_saved_bytes": naive_saved,
                             "lstm_saved_bytes": lstm_saved}  # fmt: skip
                row = _row(size, v, ran, parts[v.name, f"ours:{ran}"] | m, repeats, dev)
                rows.append(
                    row | saved_row | compiled.get(v.name, {}) | graphed.get((v.name, ran), {})
                )
                if (v.name, f"ours:{ran}+graphs") in parts:
                    times = parts[v.name, f"ours:{ran}+graphs"] | m
                    rows.append(_row(size, v, f"{ran}+graphs", times, repeats, dev) | saved_row)
    return rows


def _compiled(
    layer: nn.Module, x: Tensor, mode: str, sync: Callable[[], None]
) -> tuple[dict[str, Callable[[], None]], dict[str, Any]]:
    """``layer`` under ``torch.compile(mode=mode)``: its two measurements, compiled by a first
    call each, and ``compile_s`` (the seconds that took), or no measurements and
    ``compile_error`` (why compiling failed, one line) so that the other rows still come."""
    model = torch.compile(layer, mode=mode)
    sync()
    t0 = time.perf_counter()
    try:
        timing.forward(model, x)()
        timing.train_step(model, x)()
        sync()
    except Exception as err:  # no compiler, an unsupported op: a row that says so
        first = str(err).strip().splitlines()
        return {}, {"compile_error": f"{type(err).__name__}: {first[0] if first else ''}"}
    fns = {"fwd": timing.forward(model, x), "fwdbwd": timing.train_step(model, x)}
    return fns, {"compile_s": round(time.perf_counter() - t0, 1)}


def _graphed(
    layer: RecurrentLayer, x: Tensor, engine: str | None, sync: Callable[[], None]
) -> tuple[dict[str, Callable[[], None]], dict[str, Any]]:
    """A copy of ``layer`` with its forward and backward captured as CUDA graphs on ``engine``
    (:func:`torch.cuda.make_graphed_callables`, which warms up and captures on a side stream):
    its two measurements, or none and ``graphs_error`` (why the capture failed, one line).

    A graph replays fixed shapes, so this is for a fixed ``(T, B)``, as in a training loop over
    equal batches; the copy keeps the layer itself untouched by the capture.
    """
    model = copy.deepcopy(layer)
    try:
        with timing.on_engine(engine):
            graphed = torch.cuda.make_graphed_callables(model, (x,))
        sync()
    except Exception as err:  # no CUDA, an op that cannot be captured: a row that says so
        first = str(err).strip().splitlines()
        return {}, {"graphs_error": f"{type(err).__name__}: {first[0] if first else ''}"}
    return {"fwd": timing.forward(graphed, x), "fwdbwd": timing.train_step(graphed, x)}, {}


def _ratio(a: float, b: float | None) -> float | None:
    return None if b is None else round(a / b, 3)


def _row(
    size: Size, v: _Variant, engine: str | None, m: dict[str, float], repeats: int,
    device: torch.device,
) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = {
        "size": str(size),
        "variant": v.name,
        "kernel": v.kernel,
        "engine": engine,
        "device": str(device),
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        **{f"{k}_ms": round(t, 3) for k, t in m.items()},
        "fwd_vs_lstm": _ratio(m["fwd"], m["lstm_fwd"]),
        "fwdbwd_vs_lstm": _ratio(m["fwdbwd"], m["lstm_fwdbwd"]),
        "fwd_vs_naive": _ratio(m["naive_fwd"], m["fwd"]),
        "fwdbwd_vs_naive": _ratio(m["naive_fwdbwd"], m["fwdbwd"]),
        "fwdbwd_vs_torch": _ratio(m["fwdbwd"], m.get("torch_fwdbwd")),
        "fwd_vs_torch": _ratio(m["fwd"], m.get("torch_fwd")),
    }
    if "compiled_fwdbwd" in m:
        row["fwdbwd_vs_compiled"] = _ratio(m["fwdbwd"], m["compiled_fwdbwd"])
        row["fwd_vs_compiled"] = _ratio(m["fwd"], m["compiled_fwd"])
    return row


def target_misses(
    rows: Sequence[Mapping[str, Any]], within: float = 1.5, speedup: float = 3.0
) -> list[str]:
    """The rows that miss issue 13's target — a training step (forward + backward) within
    ``within`` times ``torch.nn.LSTM``'s and at least ``speedup`` times faster than the naive
    loop — each named with its size, variant, engine and the figure it misses by.

    >>> target_misses([{"size": "T=1", "variant": "gru_reset_before", "engine": "torch",
    ...                 "fwdbwd_vs_lstm": 1.7, "fwdbwd_vs_naive": 3.2}])
    ['T=1 gru_reset_before[torch]: 1.70x nn.LSTM']
    """
    misses = []
    for r in rows:
        why = []
        if r["fwdbwd_vs_lstm"] > within:
            why.append(f"{r['fwdbwd_vs_lstm']:.2f}x nn.LSTM")
        if r["fwdbwd_vs_naive"] < speedup:
            why.append(f"only {r['fwdbwd_vs_naive']:.2f}x the naive loop")
        if why:
            name = r["variant"] + (f"[{r['engine']}]" if r.get("engine") else "")
            misses.append(f"{r['size']} {name}: {', '.join(why)}")
    return misses


def engine_errors(
    size: Size,
    variant: str,
    engines: Sequence[str],
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> dict[str, tuple[str, float]]:
    """Check a variant's fused kernel under each engine against its naive loop on ``device``.

    Both layers get the same weights, input and dropout masks; the loss is a random weighting of
    the output. Returns, per engine asked for, the engine that ran and the largest error over the
    output and the gradients of the input and every parameter, each relative to the largest
    magnitude of the naive loop's tensor.

    >>> ran, err = engine_errors(Size(3, 2, 4, 8), "jordan", ["torch"])["torch"]
    >>> ran, err < 1e-5
    ('torch', True)
    """
    dev = torch.device(device)
    torch.manual_seed(seed)
    naive = VARIANTS[variant](size.I, size.H, "reference").to(dev).train()
    ours = VARIANTS[variant](size.I, size.H, "fused").to(dev).train()
    ours.load_state_dict(naive.state_dict())
    x = torch.randn(size.T, size.B, size.I, device=dev)
    weights = torch.randn(size.T, size.B, size.H, device=dev)

    def run(layer: RecurrentLayer, engine: str | None) -> tuple[str, list[Tensor]]:
        layer.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_()
        torch.manual_seed(seed + 1)  # the same recurrent-dropout masks in every run
        with timing.on_engine(engine):
            out = timing.output(layer(xi))
            ran = ran_engine(out) or ("c" if clib(x) is not None else "torch")
            (out * weights).sum().backward()
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in layer.parameters()]
        assert xi.grad is not None
        return ran, [out.detach(), xi.grad, *grads]

    _, want = run(naive, None)
    result = {}
    for engine in engines:
        ran, got = run(ours, engine)
        err = max(
            ((g - w).abs().max() / w.abs().max().clamp_min(1e-12)).item()
            for g, w in zip(got, want, strict=True)
        )
        result[engine] = (ran, err)
    return result


def bench_step(
    size: Size,
    repeats: int = 200,
    seed: int = 0,
    clock: Clock = time.perf_counter,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Per-step latency (microseconds, median) of :meth:`RecurrentLayer.step` for a standard and a
    peephole LSTM against ``torch.nn.LSTM`` on a length-1 input, batch ``B``, inference."""
    dev = torch.device(device)
    torch.manual_seed(seed)
    ref = nn.LSTM(size.I, size.H).to(dev).eval()
    ours = LSTM(size.I, size.H).to(dev).eval()
    ours.load_state_dict(ref.state_dict())
    peephole = LSTM(size.I, size.H, peephole=True).to(dev).eval()
    x = torch.randn(size.B, size.I, device=dev)
    h = (torch.zeros(1, size.B, size.H, device=dev), torch.zeros(1, size.B, size.H, device=dev))
    fns: dict[str, Callable[[], object]] = {
        "nn_lstm_len1": lambda: ref(x[None], h),
        "step": lambda: ours.step(x, h),
        "peephole_step": lambda: peephole.step(x, h),
    }
    with torch.no_grad():
        ms = timing.medians(fns, repeats, warmup=10, clock=clock, sync=timing.synchronizer(dev))
    us = {k: round(v * 1e3, 1) for k, v in ms.items()}
    return {
        "size": f"B={size.B},I={size.I},H={size.H}",
        **{f"{k}_us": v for k, v in us.items()},
        "step_vs_lstm": round(us["step"] / us["nn_lstm_len1"], 3),
        "peephole_step_vs_lstm": round(us["peephole_step"] / us["nn_lstm_len1"], 3),
    }
