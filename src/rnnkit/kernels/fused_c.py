"""The optional compiled time loops: C++ with no torch headers, built by the system compiler on first use.

The fused kernels have two interchangeable implementations of their two time loops (forward and
backward through time): PyTorch ops stepped from Python, and the C++ below, which runs the whole
loop in one call: one BLAS GEMM per step (``sgemm_``/``dgemm_`` of the BLAS that
``libtorch_cpu`` links and exports, MKL in the x86 wheels) and the gate math fused into vectorised
loops. Both write the same buffers, so the GEMMs before and after the loop are shared.

The library builds with ``c++ -O3`` on the first fused call (a few seconds, once) into the user
cache (``$XDG_CACHE_HOME/rnnkit``), keyed by a hash of source, compiler and flags, written
atomically. Without a compiler, without the BLAS symbols, for bfloat16, on a GPU, or with
``RNNKIT_NO_CEXT=1``, the Python loops run instead.

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from ..activations import ACTIVATIONS, Activation
from .fused_elman_c import ELMAN_C
from .fused_gru_c import GRU_C
from .fused_jordan_c import JORDAN_C
from .fused_lstm_c import LSTM_C

__all__ = ["act_code", "c_enabled", "ccall", "clib", "ptr", "use_c"]

PRELUDE = r"""
#include <cmath>
#include <cstdint>
#include <cstring>
#define RS __restrict__

typedef void (*gemm_f)(const char*, const char*, const int*, const int*, const int*, const float*,
                       const float*, const int*, const float*, const int*, const float*, float*,
                       const int*);
typedef void (*gemm_d)(const char*, const char*, const int*, const int*, const int*, const double*,
                       const double*, const int*, const double*, const int*, const double*, double*,
                       const int*);
static gemm_f sgemm = nullptr;
static gemm_d dgemm = nullptr;

extern "C" void rnnkit_set_blas(void* s, void* d) { sgemm = (gemm_f)s; dgemm = (gemm_d)d; }

static inline void gemm(const char* ta, const char* tb, int m, int n, int k, const float* a, int lda,
                        const float* b, int ldb, float beta, float* c, int ldc) {
    const float one = 1.0f;
    sgemm(ta, tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc);
}
static inline void gemm(const char* ta, const char* tb, int m, int n, int k, const double* a,
                        int lda, const double* b, int ldb, double beta, double* c, int ldc) {
    const double one = 1.0;
    dgemm(ta, tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc);
}
// Row-major helpers. C (M x N, ldc) = X (M x K, ldx) @ W^T + beta C, with W (N x K, ldw).
template <typename R>
static inline void mm_nt(int M, int N, int K, const R* X, int ldx, const R* W, int ldw, R beta,
                         R* C, int ldc) {
    if (M && N) gemm("T", "N", N, M, K, W, ldw, X, ldx, beta, C, ldc);
}
// C (M x N, ldc) = X (M x K, ldx) @ W + beta C, with W (K x N, ldw).
template <typename R>
static inline void mm_nn(int M, int N, int K, const R* X, int ldx, const R* W, int ldw, R beta,
                         R* C, int ldc) {
    if (M && N) gemm("N", "N", N, M, K, W, ldw, X, ldx, beta, C, ldc);
}

// exp: Cephes expf for float (vectorisable), libm for double.
static inline float fexp(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    std::memcpy(&s, &e, 4);
    return p * s;
}
static inline float sigm(float x) { return 1.0f / (1.0f + fexp(-x)); }
static inline double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }
static inline float tanhr(float x) {
    float e = fexp(-2.0f * std::fabs(x));
    return std::copysign((1.0f - e) / (1.0f + e), x);
}
static inline double tanhr(double x) { return std::tanh(x); }

// Activations by code (rnnkit.kernels.fused_c.act_code): y = f(x) and dy/dx from y.
enum { A_ID = 0, A_TANH = 1, A_SIGMOID = 2, A_RELU = 3, A_SOFTSIGN = 4, A_HARD = 5 };
struct Act { int code; double slope; };

template <typename R>
static void act_into(Act a, const R* x, R* y, int n) {
    const R s = (R)a.slope;
    switch (a.code) {
    case A_TANH: for (int j = 0; j < n; ++j) y[j] = tanhr(x[j]); break;
    case A_SIGMOID: for (int j = 0; j < n; ++j) y[j] = sigm(x[j]); break;
    case A_RELU: for (int j = 0; j < n; ++j) y[j] = x[j] > 0 ? x[j] : (R)0; break;
    case A_SOFTSIGN: for (int j = 0; j < n; ++j) y[j] = x[j] / (1 + std::fabs(x[j])); break;
    case A_HARD:
        for (int j = 0; j < n; ++j) {
            R v = x[j] * s + (R)0.5;
            y[j] = v < 0 ? (R)0 : (v > 1 ? (R)1 : v);
        }
        break;
    default: if (x != y) std::memcpy(y, x, sizeof(R) * n);
    }
}
template <typename R>
static void dact_into(Act a, const R* y, R* d, int n) {
    const R s = (R)a.slope;
    switch (a.code) {
    case A_TANH: for (int j = 0; j < n; ++j) d[j] = 1 - y[j] * y[j]; break;
    case A_SIGMOID: for (int j = 0; j < n; ++j) d[j] = y[j] * (1 - y[j]); break;
    case A_RELU: for (int j = 0; j < n; ++j) d[j] = y[j] > 0 ? (R)1 : (R)0; break;
    case A_SOFTSIGN:
        for (int j = 0; j < n; ++j) { R u = 1 - std::fabs(y[j]); d[j] = u * u; }
        break;
    case A_HARD: for (int j = 0; j < n; ++j) d[j] = (y[j] > 0 && y[j] < 1) ? s : (R)0; break;
    default: for (int j = 0; j < n; ++j) d[j] = 1;
    }
}
// dst = keep ? dst : src, row by row: rows past their length keep their state.
template <typename R>
static inline void keep_rows(const uint8_t* m, int B, int n, const R* prev, R* dst) {
    if (!m) return;
    for (int b = 0; b < B; ++b)
        if (!m[b]) std::memcpy(dst + (size_t)b * n, prev + (size_t)b * n, sizeof(R) * n);
}
"""

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
_lib: list[ctypes.CDLL | None] = []


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
        _lib.append(_load())
    return _lib[0]


def _flags() -> list[str]:
    flags = ["-O3", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno", "-fno-trapping-math"]
    try:
        cpu = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpu = ""
    if " avx2 " in cpu and " fma " in cpu:
        flags += ["-mavx2", "-mfma"]
    return flags


def _load() -> ctypes.CDLL | None:
    """Build (once per source and flags) and load the library; ``None`` when anything is missing."""
    try:
        blas = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        sgemm, dgemm = blas.sgemm_, blas.dgemm_
    except (OSError, AttributeError):
        return None
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        return None
    source = "\n".join([PRELUDE, LSTM_C, GRU_C, ELMAN_C, JORDAN_C])
    flags = _flags()
    key = hashlib.sha256("\0".join([source, compiler, *flags]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnkit"
    target = cache / f"fused_{key}.so"
    if not target.exists():
        try:
            cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=cache) as tmp:
                src, out = Path(tmp) / "fused.cpp", Path(tmp) / "fused.so"
                src.write_text(source)
                subprocess.run(
                    [compiler, *flags, str(src), "-o", str(out)],
                    check=True,
                    capture_output=True,
                    timeout=300,
                )
                os.replace(out, target)  # atomic: a concurrent build just replaces it
        except (OSError, subprocess.SubprocessError):
            return None
    try:
        lib = ctypes.CDLL(str(target))
    except OSError:
        return None
    lib.rnnkit_set_blas(ctypes.cast(sgemm, ctypes.c_void_p), ctypes.cast(dgemm, ctypes.c_void_p))
    return lib


def ccall(lib: ctypes.CDLL, name: str, dtype: torch.dtype, *args: object) -> None:
    """Call ``rnnkit_<name>_f32`` or ``_f64``: tensors and ``None`` pass as pointers, ints as ``int``,
    floats as ``double``, an :class:`Activation` as its code and slope."""
    fn = getattr(lib, f"rnnkit_{name}_{'f64' if dtype == torch.float64 else 'f32'}")
    cargs: list[object] = []
    for a in args:
        if a is None or isinstance(a, Tensor):
            cargs.append(ctypes.c_void_p(ptr(a)))
        elif isinstance(a, Activation):
            code = act_code(a)
            assert code is not None
            cargs += [ctypes.c_int(code[0]), ctypes.c_double(code[1])]
        elif isinstance(a, (bool, int)):
            cargs.append(ctypes.c_int(int(a)))
        else:
            assert isinstance(a, float)
            cargs.append(ctypes.c_double(a))
    fn(*cargs)
