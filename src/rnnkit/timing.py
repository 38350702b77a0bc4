"""How ``rnnkit bench`` measures: interleaved medians, device synchronisation, the bytes autograd
saves for backward, and which loop engine ran a fused layer.

:func:`medians` times every function once per repeat in turn (a round robin), so a busy
machine's load falls on all of them alike; on a GPU each timed call is bracketed by
:func:`synchronizer`. :func:`saved_bytes` counts each storage autograd keeps for backward once
(:func:`torch.autograd.graph.saved_tensors_hooks`). The engine helpers run a layer on a forced
engine (:func:`rnnkit.kernels.engines.use_engine`) and read back the one that really ran.

>>> sync = synchronizer(torch.device("cpu"))
>>> sorted(medians({"a": lambda: None, "b": lambda: None}, repeats=3, sync=sync))
['a', 'b']
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from .kernels.engines import triton_info, use_engine
from .kernels.fused_c import clib, use_c
from .layers import RecurrentLayer

__all__ = [
    "available_engines",
    "compiled_loops",
    "engine_of",
    "forward",
    "medians",
    "on_engine",
    "output",
    "ran_engine",
    "saved_bytes",
    "synchronizer",
    "train_step",
    "under",
]


# ----- engines ------------------------------------------------------------------------------------


def compiled_loops() -> bool:
    """Whether the fused kernels run their compiled C++ loops here (else PyTorch loops)."""
    return clib(torch.zeros(1)) is not None


def available_engines(device: torch.device) -> list[str]:
    """The loop engines worth timing on ``device``: ``c`` (where the compiled loops build) and
    ``torch`` on the CPU, ``triton`` (where it is installed) and ``torch`` on CUDA, ``torch``
    elsewhere. Triton's CPU interpreter is never among them: it checks numbers, far too slowly
    to time.

    >>> available_engines(torch.device("cpu"))[-1]
    'torch'
    """
    if device.type == "cpu":
        return (["c"] if compiled_loops() else []) + ["torch"]
    if device.type == "cuda":
        return (["triton"] if triton_info()["installed"] else []) + ["torch"]
    return ["torch"]


@contextmanager
def on_engine(name: str | None) -> Iterator[None]:
    """Run the fused kernels' loops on engine ``name`` (``None``: the automatic choice). ``torch``
    also switches the compiled loops off, for kernels that ask :func:`clib` directly."""
    with ExitStack() as stack:
        if name is not None:
            stack.enter_context(use_engine(name))
            if name == "torch":
                stack.enter_context(use_c(False))
        yield


def ran_engine(out: Tensor) -> str | None:
    """The engine a fused kernel recorded on its autograd node (``ctx.engine``) while computing
    ``out``, searched back through ``out``'s graph; ``None`` when no node recorded one."""
    todo, seen = [out.grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        engine = getattr(node, "engine", None)
        if isinstance(engine, str):
            return engine
        todo += [parent for parent, _ in node.next_functions]
    return None


def engine_of(layer: RecurrentLayer, x: Tensor, engine: str | None) -> str:
    """The engine that really runs ``layer``'s fused loops on ``x`` under ``engine``: the one its
    kernel records, else (a kernel that predates the engines) ``c`` where the C loops may run."""
    with on_engine(engine):
        ran = ran_engine(output(layer(x)))
        if ran is None:
            ran = "c" if clib(x) is not None else "torch"
    return ran


# ----- measuring --------------------------------------------------------------------------------


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


def output(result: Any) -> Tensor:
    return result[0] if isinstance(result, tuple) else result


def train_step(module: Callable[[Tensor], Any], x: Tensor) -> Callable[[], None]:
    def run() -> None:
        output(module(x)).sum().backward()

    return run


def forward(module: Callable[[Tensor], Any], x: Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            module(x)

    return run


def under(engine: str | None, fn: Callable[[], None]) -> Callable[[], None]:
    if engine is None:
        return fn

    def run() -> None:
        with on_engine(engine):
            fn()

    return run


Clock = Callable[[], float]
K = TypeVar("K", bound=Hashable)


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (nothing to wait for on the CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def medians(
    fns: Mapping[K, Callable[[], object]],
    repeats: int,
    warmup: int = 1,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] = lambda: None,
) -> dict[K, float]:
    """Median milliseconds of each function, measured round-robin so they share the conditions;
    ``sync`` waits for the device before and after each timed call."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times: dict[K, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            sync()
            t0 = clock()
            fn()
            sync()
            times[k].append((clock() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}
