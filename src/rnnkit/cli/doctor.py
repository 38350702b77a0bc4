"""``rnnkit doctor``: which paths are active on this machine, and why the others are not.

It reports the compiled time loops of the fused kernels (built? where? if not, the reason),
Triton (installed? which version? under its CPU interpreter?), the engine that runs the fused
kernels' time loops on each device here (:func:`rnnkit.kernels.engines.loop_engine`: ``c``,
``triton`` or ``torch``), the BLAS and oneDNN torch was built with, torch's threads, the devices
(CUDA, MPS) and the optional packages that switch features on (BLEU, ETS and Theta baselines,
ONNX and Keras interop, property tests). Building the compiled loops on first use is part of the
check (a few seconds, once).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from importlib import metadata
from typing import Any

import torch

from .. import __version__
from ..activations import get_activation
from ..cells import LSTMMath
from ..kernels.engines import loop_engine, triton_info
from ..kernels.fused_c import BLAS_LIBRARY, build_info

# Optional packages: the distribution name, and what rnnkit uses it for.
EXTRAS = {
    "sacrebleu": "BLEU for translation",
    "sentencepiece": "the subword level for translation",
    "statsmodels": "ETS and Theta baselines for forecasting",
    "onnx": "ONNX export",
    "onnxruntime": "running exported ONNX models",
    "keras": "Keras interop",
    "h5py": "Keras .h5 weights",
    "hypothesis": "property tests",
    "scikit-learn": "built-in classification data sets",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="show which paths are active here: compiled loops, Triton, engines, BLAS, devices",
        description="Which fast paths are active on this machine (and why not), the BLAS, "
        "torch's threads, the devices and the optional packages installed.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def engines() -> dict[str, str]:
    """The engine of the fused kernels' time loops on each device here, for a float32 LSTM with
    its usual activations (every family takes the same engine)."""
    cell = LSTMMath(1, 1, get_activation("tanh"), get_activation("sigmoid"))
    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return {d: loop_engine(torch.zeros(1, device=d), cell) for d in devices}


def collect() -> dict[str, Any]:
    """Everything ``rnnkit doctor`` reports, as plain JSON-ready values."""
    blas = re.findall(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    return {
        "versions": {
            "rnnkit": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "compiled_loops": build_info(),
        "triton": triton_info(),
        "engines": engines(),
        "blas": {
            "torch_blas": blas[0] if blas else None,
            "mkl": torch.backends.mkl.is_available(),
            "onednn": torch.backends.mkldnn.is_available(),
            "gemm_library": str(BLAS_LIBRARY),
        },
        "threads": {
            "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
            "cpus": os.cpu_count(),
        },
        "devices": {
            "cuda": cuda,
            "cuda_devices": [
                torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
            ]
            if cuda
            else [],
            "mps": bool(mps is not None and mps.is_available()),
        },
        "extras": {name: _version(name) for name in EXTRAS},
    }


def _loops_line(loops: dict[str, Any]) -> str:
    if loops.get("active"):
        return f"built: {loops.get('library')}\n    ({loops.get('compiler')} {loops.get('flags')})"
    return f"off: {loops.get('reason')}\n    (the fused kernels run their PyTorch loops, slower)"


ENGINE_WORDS = {"c": "compiled C++", "triton": "Triton kernels", "torch": "PyTorch ops"}


def _triton_line(triton: dict[str, Any], cuda: bool) -> str:
    if not triton["installed"]:
        why = triton.get("reason", "pip install triton: the fused kernels' GPU engine")
        return f"not installed ({why})"
    if triton["interpreted"]:
        mode = "under its CPU interpreter (TRITON_INTERPRET=1: checks numbers, slowly)"
    else:
        mode = "compiles for the GPU" if cuda else "unused here (it compiles for CUDA GPUs)"
    return f"{triton['version']}, {mode}"


def render(info: dict[str, Any]) -> str:
    """The report as lines of text."""
    v, b, t, d = info["versions"], info["blas"], info["threads"], info["devices"]
    yes = {True: "yes", False: "no"}
    cuda = ", ".join(d["cuda_devices"]) if d["cuda"] else "no"
    lines = [
        f"rnnkit {v['rnnkit']}  (python {v['python']}, torch {v['torch']})",
        f"compiled loops: {_loops_line(info['compiled_loops'])}",
        f"triton: {_triton_line(info['triton'], d['cuda'])}",
        "fused loops: "
        + "; ".join(f"{dev} {e} ({ENGINE_WORDS[e]})" for dev, e in info["engines"].items()),
        f"BLAS: {b['torch_blas']} (MKL {yes[b['mkl']]}, oneDNN {yes[b['onednn']]}); "
        f"GEMM from {os.path.basename(b['gemm_library'])}",
        f"threads: {t['intra_op']} intra-op, {t['inter_op']} inter-op, {t['cpus']} CPUs",
        f"devices: cpu; cuda: {cuda}; mps: {yes[d['mps']]}",
        "extras:",
    ]
    for name, use in EXTRAS.items():
        version = info["extras"][name]
        lines.append(f"    {name:<13} {version or 'not installed':<14} {use}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    info = collect()
    print(json.dumps(info, indent=2) if args.json else render(info))
    return 0
