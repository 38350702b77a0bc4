"""The optional compiled time loops: C++ with no torch headers, built by the system compiler on first use.

The fused kernels have two interchangeable implementations of their two time loops (forward and
backward through time): PyTorch ops stepped from Python, and C++ (``csrc/*.cpp`` beside this
module, shipped as package data), which runs the whole loop in one call: one BLAS GEMM per step
(``sgemm_``/``dgemm_`` of the BLAS that ``libtorch_cpu`` links and exports, MKL in the x86 wheels)
and the gate math fused into vectorised loops. Both write the same buffers, so the GEMMs before
and after the loop are shared.

The library builds with ``c++ -O3`` on the first fused call (a few seconds, once) into the user
cache (``$XDG_CACHE_HOME/rnnkit``), keyed by a hash of the sources, compiler and flags, written
atomically. For bfloat16, on a GPU, or with ``RNNKIT_NO_CEXT=1`` the Python loops run, by design.
When the build itself fails (no compiler, no BLAS symbol, a compile error) they run too, and a
:class:`CompiledLoopWarning` says once why; ``rnnkit doctor`` says what is active.

Every entry point has its ``argtypes`` and ``restype`` declared from :data:`SIGNATURES`, and
:func:`ccall` checks each argument against it (kind, dtype, contiguity), so a missing, extra or
swapped argument raises ``TypeError`` instead of reaching C++ as a wrong pointer.

The float32 path uses a polynomial ``exp`` (Cephes ``expf``, relative error ~1e-7) for sigmoid and
tanh; float64 uses libm, so ``gradcheck`` sees the exact functions.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from ..activations import ACTIVATIONS, Activation

__all__ = [
    "SIGNATURES",
    "CompiledLoopWarning",
    "act_code",
    "build_info",
    "c_enabled",
    "ccall",
    "clib",
    "loaded_lib",
    "ptr",
    "use_c",
]

CSRC = Path(__file__).parent / "csrc"
SOURCES = ["blas.cpp", "lstm.cpp", "gru.cpp", "elman.cpp", "jordan.cpp"]  # one library
BLAS_LIBRARY = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"

# The C entry points ``rnnkit_<name>_f32`` / ``_f64``: their arguments in order, ``name:kind``.
# Kinds: ``i`` an int (C ``int``); ``a`` an Activation (C ``int`` code, ``double`` slope);
# ``t`` a contiguous CPU tensor of the call's dtype, or None (a null pointer); ``m`` the boolean
# length mask (T, B), or None. The symbols are those of the docstrings in fused_<family>.py.
SIGNATURES: dict[str, str] = {
    "lstm_fwd": "T:i B:i H:i P:i G:i sigma:a act:a A:t W_hh:t W_hr:t p_in:t p_o:t h0:t c0:t "
    "mask:m rho:t C:t S:t work:t",
    "lstm_bwd": "T:i B:i H:i P:i G:i sigma:a act:a A:t C:t c0:t W_hh:t W_hr:t p_in:t p_o:t "
    "mask:m rho:t dout:t dcs:t dh:t dc:t dA:t dH:t work:t",
    "gru_fwd": "T:i B:i H:i after:i sigma:a act:a A:t W_hh:t b_hn:t h0:t mask:m rho:t U:t S:t "
    "work:t",
    "gru_bwd": "T:i B:i H:i after:i sigma:a act:a A:t U:t S:t h0:t W_hh:t mask:m rho:t dout:t "
    "dh:t dG:t dN:t work:t",
    "elman_fwd": "T:i B:i H:i act:a S:t W_hh:t h0:t mask:m rho:t",
    "elman_bwd": "T:i B:i H:i act:a S:t W_hh:t mask:m rho:t dout:t dh:t dA:t work:t",
    "jordan_fwd": "T:i B:i H:i O:i act:a act_o:a AH:t AY:t W_hh:t W_yh:t W_hy:t b_y:t W_yy:t "
    "y0:t h0:t mask:m rho_y:t rho_h:t work:t",
    "jordan_bwd": "T:i B:i H:i O:i act:a act_o:a AH:t AY:t W_hh:t W_yh:t W_hy:t b_y:t W_yy:t "
    "mask:m rho_y:t rho_h:t dout:t dhs:t dy:t dh:t dA:t dB:t work:t",
}
_CTYPES: dict[str, list[type]] = {
    "i": [ctypes.c_int],
    "a": [ctypes.c_int, ctypes.c_double],
    "t": [ctypes.c_void_p],
    "m": [ctypes.c_void_p],
}


class CompiledLoopWarning(UserWarning):
    """The compiled time loops could not be built or loaded; the (slower) Python loops run."""


# Activation -> (code, slope) for the C loops; only rnnkit's own table entries (matched by identity).
_CODES: dict[int, tuple[int, float]] = {
    id(ACTIVATIONS["identity"]): (0, 0.0),
    id(ACTIVATIONS["tanh"]): (1, 0.0),
    id(ACTIVATIONS["sigmoid"]): (2, 0.0),
    id(ACTIVATIONS["relu"]): (3, 0.0),
    id(ACTIVATIONS["softsign"]): (4, 0.0),
    id(ACTIVATIONS["hard_sigmoid_keras2"]): (5, 0.2),
    id(ACTIVATIONS["hard_sigmoid_keras3"]): (5, 1 / 6),
}


def act_code(act: Activation) -> tuple[int, float] | None:
    """The C loops' code and slope for one of rnnkit's named activations, else ``None``."""
    return _CODES.get(id(act))


def ptr(t: Tensor | None) -> int | None:
    """The data address of a contiguous tensor (``None`` for an absent one: a null pointer)."""
    if t is None:
        return None
    assert t.is_contiguous()
    return t.data_ptr()


_state: dict[str, object] = {"enabled": os.environ.get("RNNKIT_NO_CEXT", "") in ("", "0")}
_lib: list[ctypes.CDLL | None] = []  # the loaded library (or None after a failure), once
_info: dict[str, object] = {}  # what the last build attempt found, for `rnnkit doctor`


def c_enabled() -> bool:
    """Whether the compiled loops may be used (they still need to build and load)."""
    return bool(_state["enabled"])


@contextmanager
def use_c(enabled: bool) -> Iterator[None]:
    """Temporarily allow or forbid the compiled loops (tests run both implementations)."""
    old = _state["enabled"]
    _state["enabled"] = enabled
    try:
        yield
    finally:
        _state["enabled"] = old


def clib(*tensors: Tensor, acts: Sequence[Activation] = ()) -> ctypes.CDLL | None:
    """The compiled library when it may run on ``tensors`` (CPU, float32/float64) with ``acts``
    (rnnkit's named activations), else ``None``."""
    if not _state["enabled"] or any(act_code(a) is None for a in acts):
        return None
    for t in tensors:
        if t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
            return None
    if not _lib:
        lib, reason = _load()
        _lib.append(lib)
        if lib is None:
            warnings.warn(
                f"rnnkit: compiled time loops unavailable ({reason}); the fused kernels run "
                "their PyTorch loops (slower). See `rnnkit doctor`; RNNKIT_NO_CEXT=1 skips the build.",
                CompiledLoopWarning,
                stacklevel=2,
            )
    return _lib[0]


def loaded_lib() -> ctypes.CDLL:
    """The compiled library, once :func:`clib` has loaded it (the ``c`` engine was chosen)."""
    assert _lib and _lib[0] is not None, "the compiled loops are not loaded"
    return _lib[0]


def build_info() -> dict[str, object]:
    """What the compiled loops are on this machine: ``active`` (the fused kernels run them),
    ``enabled`` (not switched off), ``loaded``, ``library`` (path), ``compiler``, ``flags`` and
    ``reason`` (why they are not active).

    Builds the library first when it may be used and has not been tried yet.
    """
    if _state["enabled"] and not _lib:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CompiledLoopWarning)
            clib(torch.zeros(1))
    loaded = bool(_lib) and _lib[0] is not None
    reason = None if loaded else _info.get("reason")
    if not _state["enabled"]:
        reason = "switched off (RNNKIT_NO_CEXT)"
    active = loaded and c_enabled()
    return {"active": active, "enabled": c_enabled(), "loaded": loaded, **_info, "reason": reason}


def _flags() -> list[str]:
    flags = ["-O3", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno", "-fno-trapping-math"]
    try:
        cpu = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpu = ""
    if " avx2 " in cpu and " fma " in cpu:
        flags += ["-mavx2", "-mfma"]
    return flags


def _first_error(stderr: str) -> str:
    """The line of a compiler's output that says what went wrong (the first ``error`` line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line[:200]
    return lines[0][:200] if lines else "no message"


def _build(compiler: str, flags: list[str]) -> tuple[Path | None, str]:
    """Compile the sources into the cache (once per source, compiler and flags): the library's path,
    or ``None`` and the reason."""
    paths = [CSRC / "common.h", *(CSRC / name for name in SOURCES)]
    digest = hashlib.sha256("\0".join([compiler, *flags]).encode())
    for path in paths:
        digest.update(path.read_bytes())
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnkit"
    target = cache / f"fused_{digest.hexdigest()[:16]}.so"
    if target.exists():
        return target, ""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            out = Path(tmp) / "fused.so"
            cmd = [compiler, *flags, "-I", str(CSRC), *(str(CSRC / n) for n in SOURCES)]
            done = subprocess.run(
                [*cmd, "-o", str(out)], capture_output=True, text=True, timeout=300
            )
            if done.returncode != 0:
                return None, f"build failed: {_first_error(done.stderr)}"
            os.replace(out, target)  # atomic: a concurrent build just replaces it
    except subprocess.TimeoutExpired:
        return None, "build timed out after 300 s"
    except OSError as e:
        return None, f"build failed: {e}"
    return target, ""


def _load() -> tuple[ctypes.CDLL | None, str]:
    """Build (once per source and flags) and load the library: it, or ``None`` and the reason."""
    _info.clear()
    try:
        blas = ctypes.CDLL(str(BLAS_LIBRARY))
        sgemm, dgemm = blas.sgemm_, blas.dgemm_
    except (OSError, AttributeError) as e:
        return _failed(f"no BLAS symbol sgemm_/dgemm_ in {BLAS_LIBRARY.name}: {e}")
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None or shutil.which(compiler) is None:
        return _failed(f"no C++ compiler ({compiler or 'c++/g++ not on PATH'}; set CXX)")
    flags = _flags()
    _info.update(compiler=compiler, flags=" ".join(flags))
    target, reason = _build(compiler, flags)
    if target is None:
        return _failed(reason)
    _info["library"] = str(target)
    try:
        lib = ctypes.CDLL(str(target))
        _declare(lib)
    except (OSError, AttributeError) as e:
        return _failed(f"cannot load {target.name}: {e}")
    lib.rnnkit_set_blas(ctypes.cast(sgemm, ctypes.c_void_p), ctypes.cast(dgemm, ctypes.c_void_p))
    return lib, ""


def _failed(reason: str) -> tuple[None, str]:
    _info["reason"] = reason
    return None, reason


def _declare(lib: ctypes.CDLL) -> None:
    """Declare ``argtypes``/``restype`` of every entry point (a missing one raises AttributeError)."""
    lib.rnnkit_set_blas.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.rnnkit_set_blas.restype = None
    for name, signature in SIGNATURES.items():
        argtypes = [c for arg in signature.split() for c in _CTYPES[arg.split(":")[1]]]
        for suffix in ("f32", "f64"):
            fn = getattr(lib, f"rnnkit_{name}_{suffix}")
            fn.argtypes, fn.restype = argtypes, None


# SIGNATURES parsed once: name -> ((argument name, kind), ...).
_PARSED = {
    name: tuple((arg.split(":")[0], arg.split(":")[1]) for arg in sig.split())
    for name, sig in SIGNATURES.items()
}
_KINDS = {"i": "an int", "a": "an Activation", "t": "a tensor or None", "m": "a mask or None"}


def _bad(fn: str, pos: int, arg: str, kind: str, value: object, want: torch.dtype) -> TypeError:
    """The error for argument ``pos`` (``arg``) of ``fn`` that is not of its declared ``kind``."""
    where = f"{fn}: argument {pos} ({arg})"
    if isinstance(value, Activation):
        return TypeError(f"{where}: activation {value.name!r} has no C code")
    if kind in "tm" and isinstance(value, Tensor):
        strided = "" if value.is_contiguous() else " (not contiguous)"
        return TypeError(
            f"{where}: expected a contiguous CPU {want} tensor, got {value.dtype} "
            f"on {value.device}{strided}"
        )
    return TypeError(f"{where}: expected {_KINDS[kind]}, got {type(value).__name__}")


def ccall(lib: ctypes.CDLL, name: str, dtype: torch.dtype, *args: object) -> None:
    """Call ``rnnkit_<name>_f32`` or ``_f64`` with ``args`` in the order of ``SIGNATURES[name]``:
    ints, Activations (as code and slope), tensors or ``None`` (as pointers).

    Raises:
        TypeError: on a missing or extra argument, or one not of its declared kind (an int where a
            tensor goes, a tensor of another dtype, a non-contiguous one ...).
    """
    fn = f"rnnkit_{name}_{'f64' if dtype == torch.float64 else 'f32'}"
    signature = _PARSED[name]
    if len(args) != len(signature):
        names = ", ".join(arg for arg, _ in signature)
        raise TypeError(f"{fn} takes {len(signature)} arguments ({names}), got {len(args)}")
    cargs: list[object] = []
    for pos, ((arg, kind), value) in enumerate(zip(signature, args, strict=True)):
        if kind == "t" or kind == "m":
            if value is None:
                cargs.append(None)
                continue
            want = torch.bool if kind == "m" else dtype
            if (
                isinstance(value, Tensor)
                and value.dtype == want
                and value.is_cpu
                and value.is_contiguous()
            ):
                cargs.append(value.data_ptr())
                continue
        elif kind == "i":
            if isinstance(value, int):  # bool is an int
                cargs.append(int(value))
                continue
        elif isinstance(value, Activation) and (code := act_code(value)) is not None:
            cargs += code
            continue
        raise _bad(fn, pos, arg, kind, value, torch.bool if kind == "m" else dtype)
    getattr(lib, fn)(*cargs)
