"""Compile every Triton step kernel the fused kernels launch, for a real GPU, on a machine without one.

Triton's interpreter (what ``tests/test_fused.py`` runs without a GPU) checks the kernels' numbers
but not that Triton's GPU compiler accepts them: types, ``constexpr`` branches, pointer
arithmetic. This script checks that: it runs every fused kernel on the ``triton`` engine over a
grid of options on the CPU with each launch recorded instead of run (the outputs are then
meaningless and ignored), and compiles each distinct launch — kernel, argument dtypes and
``constexpr`` values — with Triton's CUDA backend for the targets named on the command line down
to a cubin (``ptxas`` ships inside Triton's wheel; no GPU and no driver are needed).

    python tests/triton_compile_check.py 90 80          # sm_90 (H100/H200) and sm_80 (A100)
    python tests/triton_compile_check.py --cover 90     # a covering sample (what CI runs)

Every distinct launch is ~250 compiles (a few minutes); ``--cover`` compiles a sample chosen
greedily so that every kernel meets every dtype and every value of each of its ``constexpr``
flags at least once (about a tenth of them). Prints one line per target and exits 1 when a
kernel fails to compile, naming it. It must run in its own process, without
``TRITON_INTERPRET``: the kernels are decorated at import time.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
import time
from typing import Any

import torch

from rnnkit.activations import get_activation
from rnnkit.cells import CellMath, ElmanMath, GRUMath, JordanMath, LSTMMath
from rnnkit.kernels import engines, fused_kernel_for, length_mask

DTYPES = {
    torch.float32: "fp32",
    torch.float64: "fp64",
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
    torch.uint8: "u8",
}
Launch = tuple[Any, tuple[tuple[str, str], ...], tuple[tuple[str, Any], ...]]  # (JITFunction, ...)
launches: dict[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, Any], ...]], Launch] = {}


def record(self: Any, *args: Any, grid: Any, warmup: bool, **kwargs: Any) -> None:
    """Stands in for ``JITFunction.run``: note the launch's signature and constants, run nothing."""
    values = dict(zip(self.arg_names, args, strict=False)) | kwargs
    sig, consts = [], []
    for p in self.params:
        v = values[p.name]
        if p.is_constexpr:
            consts.append((p.name, v))
        elif isinstance(v, torch.Tensor):
            sig.append((p.name, "*" + DTYPES[v.dtype]))
        else:
            assert isinstance(v, int), f"{self.__name__}: argument {p.name} is {type(v).__name__}"
            sig.append((p.name, "i32"))
    key = (self.__name__, tuple(sig), tuple(consts))
    launches.setdefault(key, (self, tuple(sig), tuple(consts)))


def cells() -> list[CellMath]:
    tanh, sig = get_activation("tanh"), get_activation("sigmoid")
    hard, soft = get_activation("hard_sigmoid_keras2"), get_activation("softsign")
    out: list[CellMath] = []
    for peephole, coupled, proj in itertools.product([False, True], [False, True], [0, 2]):
        out.append(LSTMMath(3, 5, tanh, sig, proj_size=proj, peephole=peephole, coupled=coupled))
    out.append(LSTMMath(3, 5, soft, hard, peephole=True))
    out += [GRUMath(3, 5, tanh, sig, reset_after=a) for a in (True, False)]
    out += [GRUMath(3, 5, get_activation("relu"), hard, reset_after=a) for a in (True, False)]
    out += [ElmanMath(3, 5, get_activation(a)) for a in ("tanh", "relu", "softsign")]
    out += [
        JordanMath(3, 5, 2, tanh, sig, hh, yh, yy)
        for hh, yh, yy in itertools.product([False, True], repeat=3)
        if hh or yh or yy
    ]
    return out


def exercise(cell: CellMath, dtype: torch.dtype, lengths: bool, dropout: bool) -> None:
    """Run ``cell``'s fused kernel forward and backward on the triton engine (launches recorded)."""
    T, B = 4, 3
    kernel = fused_kernel_for(cell)
    assert kernel is not None
    w = {n: torch.randn(s.shape, dtype=dtype, requires_grad=True)
         for n, s in cell.weight_specs(True).items()}  # fmt: skip
    x = torch.randn(T, B, cell.input_size, dtype=dtype, requires_grad=True)
    state = tuple(torch.zeros(B, n, dtype=dtype, requires_grad=True) for n in cell.state_sizes)
    mask = length_mask(torch.tensor([T, 0, 2]), T) if lengths else None
    drop = None
    if dropout:
        drop = [torch.ones(B, n, dtype=dtype) if ok else None
                for n, ok in zip(cell.state_sizes, cell.droppable, strict=True)]  # fmt: skip
    with engines.use_engine("triton"):
        assert engines.loop_engine(x, cell) == "triton"
        res = kernel(cell, x, state, w, mask, drop, True)
        outs = [res.output, *res.final, *(res.steps or ())]
        sum(o.float().sum() for o in outs).backward()  # type: ignore[union-attr]


def features(launch: Launch) -> set[tuple[str, str, object]]:
    """What a launch exercises: its kernel with each pointer dtype and each constant's value."""
    fn, signature, constants = launch
    return {(fn.__name__, "dtype", t) for _, t in signature if t.startswith("*")} | {
        (fn.__name__, k, v) for k, v in constants
    }


def covering(all_launches: list[Launch]) -> list[Launch]:
    """A few launches that together exercise every feature of all of them (greedy set cover)."""
    todo = set().union(*(features(x) for x in all_launches))
    chosen = []
    while todo:
        best = max(all_launches, key=lambda x: len(features(x) & todo))
        chosen.append(best)
        todo -= features(best)
    return chosen


def main(targets: list[int], cover: bool) -> int:
    # Triton reads these when first imported, here: importing this module changes nothing (pytest
    # imports it to look for doctests). A fresh cache, so that every kernel is really compiled.
    os.environ.pop("TRITON_INTERPRET", None)
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # Triton 3.9 warns when it is unset
    os.environ["TRITON_CACHE_DIR"] = cache = tempfile.mkdtemp(prefix="rnnkit-triton-cache-")
    atexit.register(shutil.rmtree, cache, ignore_errors=True)
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.runtime.jit import JITFunction

    JITFunction.run = record  # type: ignore[method-assign]
    engines.triton_interpreted = lambda: True  # the engine may run on CPU tensors: nothing runs
    for cell in cells():
        for dtype in (torch.float32, torch.float64, torch.bfloat16):
            for lengths, dropout in [(False, False), (True, True)]:
                exercise(cell, dtype, lengths, dropout)
    todo = covering(list(launches.values())) if cover else list(launches.values())
    failed = 0
    for cc in targets:
        t0 = time.perf_counter()
        for fn, signature, constants in todo:
            name = fn.__name__
            src = ASTSource(fn, dict(signature) | {k: "constexpr" for k, _ in constants},
                            dict(constants))  # fmt: skip
            try:
                triton.compile(src, target=GPUTarget("cuda", cc, 32))
            except Exception as err:
                failed += 1
                first = str(err).strip().splitlines()[:3]
                print(f"sm_{cc}: {name} {dict(constants)} {dict(signature)}: {' | '.join(first)}")
        kinds = sorted({fn.__name__ for fn, _, _ in todo})
        print(f"sm_{cc}: compiled {len(todo) - failed} of {len(todo)} launches (of "
              f"{len(launches)} distinct) of {len(kinds)} kernels ({', '.join(kinds)}) in "
              f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    cover = "--cover" in args
    sys.exit(main([int(a) for a in args if a != "--cover"] or [90], cover))
