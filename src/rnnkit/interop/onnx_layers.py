"""One rnnkit layer (all its directions) as one ONNX ``LSTM``, ``GRU`` or ``RNN`` node.

Gate orders (rows of the fused matrices)::

    rnnkit / torch   LSTM i, f, g, o      GRU r, z, n
    ONNX             LSTM i, o, f, c      GRU z, r, h      P (peepholes) = [p_i, p_o, p_f]

ONNX's ``B`` is ``[Wb, Rb]``, i.e. ``[bias_ih, bias_hh]`` each permuted like the weights.

Variants (derivations in docs/INTEROP.md):

* peepholes — ``P``; the ONNX LSTM peeks at ``C_{t-1}`` for i, f and at ``C_t`` for o, as rnnkit.
* CIFG (``coupled``) — ONNX ``input_forget=1`` computes ``i = σ(a_i)``, ``f = 1 - i`` and ignores
  the f-slot weights; rnnkit computes ``f = σ(a_f)``, ``i = 1 - f``. With ``σ(-a) = 1 - σ(a)``
  (sigmoid; hard sigmoid with β = 0.5) the *negated* forget-gate parameters in the i slot give
  ONNX ``i = 1 - f_rnnkit`` and ``f = f_rnnkit`` exactly. Other gate activations go to Scan.
* LSTMP (``proj_size``) — ``W_hh r_{t-1} = (W_hh W_hr) h~_{t-1}``, so the unprojected ``h~`` is a
  plain LSTM with ``R = W_hh W_hr`` (4H, H); then ``Y = Y~ W_hrᵀ``. An initial ``h_0`` becomes
  ``h~_0 = h_0 pinv(W_hr)ᵀ`` (exact when ``W_hr`` has full row rank, as any trained one has).
* GRU ``reset_after`` True/False — ``linear_before_reset`` 1/0.
"""

from __future__ import annotations

import numpy as np

from .onnx_graph import Graph, onnx_activation
from .spec import LayerSpec

__all__ = ["export_native_layer", "native_reason"]

_ODD = ("sigmoid", "hard_sigmoid_keras2", "hard_sigmoid_keras3")  # σ(-a) = 1 - σ(a)


def native_reason(spec: LayerSpec) -> str | None:
    """Why the layer's ONNX op cannot compute this configuration exactly, or None if it can."""
    if spec.family == "jordan":
        return "JordanRNN (no ONNX operator)"
    if spec.family == "lstm" and spec.options["coupled"]:
        rec = spec.activations["recurrent_activation"]
        if rec not in _ODD:
            return f"coupled=True with recurrent_activation={rec!r} (input_forget needs σ(-a) = 1 - σ(a))"
    return None


def _blocks(a: np.ndarray, H: int, order: list[int]) -> np.ndarray:
    return np.concatenate([a[k * H : (k + 1) * H] for k in order], axis=0)


def _lstm_dir(
    w: dict[str, np.ndarray], H: int, coupled: bool, peephole: bool
) -> dict[str, np.ndarray]:
    """W, R, B, P of one direction in ONNX's i, o, f, c order."""
    out: dict[str, np.ndarray] = {}
    R = w["weight_hh"] @ w["weight_hr"] if "weight_hr" in w else w["weight_hh"]
    for key, a in [
        ("W", w["weight_ih"]),
        ("R", R),
        ("Wb", w.get("bias_ih")),
        ("Rb", w.get("bias_hh")),
    ]:
        if a is None:
            continue
        if coupled:  # rnnkit rows f, g, o -> ONNX i := -f, o, f := 0 (ignored), c := g
            f, g, o = (a[k * H : (k + 1) * H] for k in range(3))
            out[key] = np.concatenate([-f, o, np.zeros_like(f), g], axis=0)
        else:  # rnnkit rows i, f, g, o -> ONNX i, o, f, c
            out[key] = _blocks(a, H, [0, 3, 1, 2])
    if "Wb" in out:
        out["B"] = np.concatenate([out.pop("Wb"), out.pop("Rb")])
    if peephole:
        p_f, p_o = w["weight_cf"], w["weight_co"]
        p_i = -p_f if coupled else w["weight_ci"]
        out["P"] = np.concatenate([p_i, p_o, np.zeros_like(p_f) if coupled else p_f])
    return out


def _gru_dir(w: dict[str, np.ndarray], H: int) -> dict[str, np.ndarray]:
    out = {"W": _blocks(w["weight_ih"], H, [1, 0, 2]), "R": _blocks(w["weight_hh"], H, [1, 0, 2])}
    if "bias_ih" in w:
        out["B"] = np.concatenate([_blocks(w[k], H, [1, 0, 2]) for k in ("bias_ih", "bias_hh")])
    return out


def _rnn_dir(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {"W": w["weight_ih"], "R": w["weight_hh"]}
    if "bias_ih" in w:
        out["B"] = np.concatenate([w["bias_ih"], w["bias_hh"]])
    return out


def _activation_attrs(names: list[tuple[str, str]], D: int) -> dict[str, object]:
    """``activations`` (+ alpha/beta) for one node. onnxruntime reads alpha/beta *sparsely* (only
    activations that take them consume a value); writing one value per slot when all agree makes
    the positional reading of other runtimes give the same numbers."""
    forms = [onnx_activation(name, option) for option, name in names] * D
    attrs: dict[str, object] = {"activations": [op for op, _, _ in forms]}
    takers = [(a, b) for _, a, b in forms if a is not None]
    if takers:
        if len(set(takers)) == 1:
            attrs["activation_alpha"] = [takers[0][0]] * len(forms)
            attrs["activation_beta"] = [takers[0][1]] * len(forms)
        else:
            attrs["activation_alpha"] = [a for a, _ in takers]
            attrs["activation_beta"] = [b for _, b in takers]
    return attrs


def export_native_layer(
    g: Graph, spec: LayerSpec, l: int, x: str, lens: str, init: list[str | None]
) -> tuple[str, list[str]]:
    """Layer ``l`` of ``spec`` over ``x (T, B, I_l)``; ``lens`` is an int32 ``(B,)`` name or ``""``.

    ``init`` holds each state entry ``(D, B, size)`` or None (zeros). Returns ``y (T, B, D*O)`` and
    each state entry's final value ``(D, B, size)``.
    """
    H, D, fam = spec.hidden_size, spec.num_directions, spec.family
    per_dir = spec.weights[l]
    acts = spec.activations
    attrs: dict[str, object] = {
        "hidden_size": H,
        "direction": "bidirectional" if D == 2 else "forward",
    }
    if fam == "lstm":
        coupled, peephole = spec.options["coupled"], spec.options["peephole"]
        mats = [_lstm_dir(w, H, coupled, peephole) for w in per_dir]
        slots = [("recurrent_activation", acts["recurrent_activation"])] + [
            ("activation", acts["activation"])
        ] * 2
        if coupled:
            attrs["input_forget"] = 1
        op = "LSTM"
    elif fam == "gru":
        mats = [_gru_dir(w, H) for w in per_dir]
        slots = [
            ("recurrent_activation", acts["recurrent_activation"]),
            ("activation", acts["activation"]),
        ]
        attrs["linear_before_reset"] = 1 if spec.options["reset_after"] else 0
        op = "GRU"
    else:
        mats = [_rnn_dir(w) for w in per_dir]
        slots = [("nonlinearity", acts["activation"])]
        op = "RNN"
    attrs.update(_activation_attrs(slots, D))

    def stacked(key: str) -> str:
        return g.const(f"{op}{l}_{key}", np.stack([m[key] for m in mats])) if key in mats[0] else ""

    h0, c0 = [*init, None][:2]
    proj = spec.options.get("proj_size", 0) if fam == "lstm" else 0
    W_hr = np.stack([w["weight_hr"] for w in per_dir]) if proj else np.zeros(0)  # (D, P, H)
    if proj and h0 is not None:  # h~_0 = h_0 pinv(W_hr)ᵀ: (D, B, P) @ (D, P, H)
        pinv_t = np.stack([np.linalg.pinv(m.astype(np.float64)).T for m in W_hr])
        h0 = g.node("MatMul", [h0, g.const(f"LSTM{l}_pinv_hr", pinv_t)], "h0_unprojected")
    inputs = [x, stacked("W"), stacked("R"), stacked("B"), lens, h0 or ""]
    if fam == "lstm":
        inputs += [c0 or "", stacked("P")]
    while inputs[-1] == "":
        inputs.pop()
    n_out = 3 if fam == "lstm" else 2
    outs = g.node(op, inputs, f"{op.lower()}{l}", n_out=n_out, **attrs)
    Y, finals = outs[0], list(outs[1:])  # Y (T, D, B, H)
    if proj:
        hr_t = g.const(f"LSTM{l}_hr_t", np.transpose(W_hr, (0, 2, 1)))  # (D, H, P)
        Y = g.node("MatMul", [Y, hr_t], "y_projected")  # (T, D, B, P)
        finals[0] = g.node("MatMul", [finals[0], hr_t], "h_projected")  # (D, B, P)
    y = g.node("Transpose", [Y], perm=[0, 2, 1, 3])  # (T, B, D, O)
    y = g.node("Reshape", [y, g.ints("shape_tb_", [0, 0, -1])], f"layer{l}_out")  # (T, B, D*O)
    return y, finals
