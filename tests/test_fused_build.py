"""The compiled loops' build and call boundary: a failed build warns once naming why (and the Python
loops still give the reference's numbers); every entry point's arguments are declared, so a wrong
call raises instead of reaching C++."""

from __future__ import annotations

import ctypes
import re
import warnings
from pathlib import Path

import pytest
import torch

from rnnkit.activations import get_activation
from rnnkit.cells import ElmanMath
from rnnkit.kernels import fused_c, run_reference
from rnnkit.kernels.fused_c import SIGNATURES, CompiledLoopWarning, ccall, clib
from rnnkit.kernels.fused_elman import run_fused_elman

tanh = get_activation("tanh")


@pytest.fixture
def fresh_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A process that has not tried to build yet, with its own empty cache."""
    monkeypatch.setattr(fused_c, "_lib", [])
    monkeypatch.setattr(fused_c, "_info", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def fails_once(reason: str) -> None:
    """The first fused call warns naming ``reason``, runs the Python loop (reference's numbers);
    the second is silent."""
    cell = ElmanMath(3, 4, tanh)
    w = {n: torch.randn(s.shape) for n, s in cell.weight_specs(True).items()}
    x, state = torch.randn(5, 2, 3), (torch.zeros(2, 4),)
    with pytest.warns(CompiledLoopWarning, match=reason):
        out = run_fused_elman(cell, x, state, w).output
    torch.testing.assert_close(out, run_reference(cell, x, state, w).output)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert clib(x) is None
    info = fused_c.build_info()
    assert info["loaded"] is False and re.search(reason, str(info["reason"]))


def test_no_compiler_warns_once(fresh_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXX", str(fresh_build / "no-such-c++"))
    fails_once("no C\\+\\+ compiler")


def test_build_error_warns_its_first_line(
    fresh_build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fresh_build / "fake-c++"
    fake.write_text("#!/bin/sh\necho 'In file included from x.cpp:1:' >&2\n")
    fake.write_text(fake.read_text() + "echo 'x.cpp:3:1: error: boom here' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CXX", str(fake))
    fails_once("build failed: x.cpp:3:1: error: boom here")


def test_missing_blas_symbol_warns(fresh_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fused_c, "BLAS_LIBRARY", fresh_build / "libnoblas.so")
    fails_once("no BLAS symbol")


def test_switched_off_is_silent_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    with fused_c.use_c(False), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert clib(torch.zeros(1)) is None
        info = fused_c.build_info()
    assert info["enabled"] is False and "RNNKIT_NO_CEXT" in str(info["reason"])


@pytest.fixture
def lib() -> ctypes.CDLL:
    lib = clib(torch.zeros(1))
    if lib is None:  # pragma: no cover - only on a machine without a compiler
        pytest.skip(f"compiled loops unavailable: {fused_c.build_info()['reason']}")
    return lib


def test_every_entry_point_is_declared(lib: ctypes.CDLL) -> None:
    for name, signature in SIGNATURES.items():
        n_c = sum(2 if arg.endswith(":a") else 1 for arg in signature.split())
        for suffix in ("f32", "f64"):
            fn = getattr(lib, f"rnnkit_{name}_{suffix}")
            assert len(fn.argtypes) == n_c and fn.restype is None, fn


def elman_args(dtype: torch.dtype = torch.float32) -> list[object]:
    T, B, H = 2, 3, 4
    S, W_hh = torch.randn(T, B, H, dtype=dtype), torch.randn(H, H, dtype=dtype)
    return [T, B, H, tanh, S, W_hh, torch.zeros(B, H, dtype=dtype), None, None]


def test_a_right_call_runs(lib: ctypes.CDLL) -> None:
    args = elman_args()
    ccall(lib, "elman_fwd", torch.float32, *args)
    S = args[4]
    assert isinstance(S, torch.Tensor) and torch.isfinite(S).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a[:-1], "takes 9 arguments"),  # one missing
        (lambda a: [*a, None], "takes 9 arguments"),  # one extra
        (lambda a: [a[0], a[4], *a[2:4], a[1], *a[5:]], r"argument 1 \(B\): expected an int"),
        (lambda a: [*a[:4], a[4].double(), *a[5:]], r"argument 4 \(S\): expected .*float32"),
        (lambda a: [*a[:4], a[4].transpose(0, 1), *a[5:]], "not contiguous"),
        (lambda a: [*a[:7], torch.ones(2, 3), a[8]], r"argument 7 \(mask\).*torch.bool"),
        (lambda a: [*a[:3], get_activation(torch.nn.functional.gelu), *a[4:]], "has no C code"),
    ],
    ids=["missing", "extra", "swapped", "dtype", "strided", "mask-dtype", "activation"],
)
def test_a_wrong_call_raises(lib: ctypes.CDLL, change: object, message: str) -> None:
    args = change(elman_args())  # type: ignore[operator]
    with pytest.raises(TypeError, match=message):
        ccall(lib, "elman_fwd", torch.float32, *args)


def test_ctypes_itself_rejects_a_pointer_for_an_int(lib: ctypes.CDLL) -> None:
    with pytest.raises(ctypes.ArgumentError):
        lib.rnnkit_elman_fwd_f32(None, 1, 1, 0, 0.0, None, None, None, None, None)


def c_declarations() -> dict[str, list[tuple[str, str]]]:
    """The entry points as the C++ declares them: name -> [(argument, kind)], an activation's
    ``int code, double slope`` pair read as one ``a`` argument."""
    found: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(fused_c.CSRC.glob("*.cpp")):
        text = path.read_text().replace("\\\n", " ")
        for name, params in re.findall(r'extern "C" void rnnkit_(\w+)_##SUF\(([^)]*)\)', text):
            args: list[tuple[str, str]] = []
            for param in (p.strip() for p in params.split(",")):
                ctype, arg = param.rsplit(" ", 1)
                if ctype == "double":  # the slope after an activation's code
                    args[-1] = (args[-1][0], "a")
                    continue
                kind = {"int": "i", "const uint8_t*": "m"}.get(ctype, "t")
                args.append((arg, kind))
            found[name] = args
    return found


def test_signatures_match_the_cpp() -> None:
    declared = c_declarations()
    assert set(declared) == set(SIGNATURES)
    for name, signature in SIGNATURES.items():
        ours = [tuple(arg.split(":")) for arg in signature.split()]
        theirs = declared[name]
        assert [k for _, k in ours] == [k for _, k in theirs], name
        # names agree except for activations (C++: code/slope names; Python: the option's symbol)
        assert [a for a, k in ours if k != "a"] == [a for a, k in theirs if k != "a"], name
