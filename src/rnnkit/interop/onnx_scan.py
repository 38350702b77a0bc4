"""Layers the fixed ONNX operators cannot express, as a ``Scan`` over one cell step.

Used for Jordan networks and for a coupled LSTM whose gate activation is not odd-symmetric. The
body is the cell's step written as in :mod:`rnnkit.cells` (one ONNX node per equation term), so it
is exact up to float32 rounding. Variable lengths: a ``(T, B, 1)`` boolean mask is a second scan
input; a masked step keeps the previous state and outputs zeros, so a row's final state is its
state at its last valid step (the initial state for length 0), as in rnnkit. The backward direction
reverses each row within its length (``ReverseSequence``), runs forward, and reverses back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import TensorProto

from .onnx_graph import Graph
from .spec import LayerSpec

__all__ = ["export_scan_layer", "length_mask"]

Body = Callable[[Graph, str, list[str], dict[str, np.ndarray]], list[str]]


def _linear(g: Graph, x: str, w: dict[str, np.ndarray], W: str, b: str | None) -> str:
    """``F.linear(x, w[W], w[b])`` as a Gemm (``x Wᵀ + b``)."""
    inputs = [x, g.const(W, w[W])] + ([g.const(b, w[b])] if b and b in w else [])
    return g.node("Gemm", inputs, transB=1)


def _jordan_body(spec: LayerSpec) -> Body:
    o, acts = spec.options, spec.activations

    def body(g: Graph, x: str, state: list[str], w: dict[str, np.ndarray]) -> list[str]:
        y, h = state
        a = _linear(g, x, w, "weight_ih", "bias_ih")  # (B, H)
        if o["hidden_to_hidden"]:
            a = g.node("Add", [a, _linear(g, h, w, "weight_hh", "bias_hh")])  # Elman recurrence
        if o["output_to_hidden"]:
            a = g.node("Add", [a, _linear(g, y, w, "weight_yh", None)])  # Jordan recurrence
        h = g.act(acts["activation"], a, "activation")
        b = _linear(g, h, w, "weight_hy", "bias_y")  # (B, O)
        if o["output_to_output"]:
            b = g.node("Add", [b, _linear(g, y, w, "weight_yy", None)])
        y = g.act(acts["output_activation"], b, "output_activation")
        return [y, h]

    return body


def _lstm_body(spec: LayerSpec) -> Body:
    o, acts, H = spec.options, spec.activations, spec.hidden_size
    G = 3 if o["coupled"] else 4

    def body(g: Graph, x: str, state: list[str], w: dict[str, np.ndarray]) -> list[str]:
        h, c = state

        def sigma(a: str) -> str:
            return g.act(acts["recurrent_activation"], a, "recurrent_activation")

        def peep(a: str, p: str, cell: str) -> str:
            return (
                g.node("Add", [a, g.node("Mul", [g.const(p, w[p]), cell])]) if o["peephole"] else a
            )

        gates = g.node(
            "Add",
            [_linear(g, x, w, "weight_ih", "bias_ih"), _linear(g, h, w, "weight_hh", "bias_hh")],
        )  # (B, G*H)
        parts = g.node("Split", [gates, g.ints("split", [H] * G)], n_out=G, axis=1)
        x_f, x_g, x_o = parts[-3:]
        f = sigma(peep(x_f, "weight_cf", c))  # forget gate, peeks at c_{t-1}
        if o["coupled"]:
            i = g.node("Sub", [g.const("one", 1.0), f])  # CIFG: i = 1 - f
        else:
            i = sigma(peep(parts[0], "weight_ci", c))  # input gate
        gg = g.act(acts["activation"], x_g, "activation")  # candidate cell
        c = g.node("Add", [g.node("Mul", [f, c]), g.node("Mul", [i, gg])])  # new cell state
        out = sigma(peep(x_o, "weight_co", c))  # output gate, peeks at c_t
        h = g.node("Mul", [out, g.act(acts["activation"], c, "activation")])
        if o["proj_size"]:
            h = _linear(g, h, w, "weight_hr", None)  # (B, P)
        return [h, c]

    return body


def length_mask(g: Graph, x: str, lens64: str) -> str:
    """``(T, B, 1)`` booleans, True where ``t < lengths[b]``."""
    T = g.node("Gather", [g.node("Shape", [x]), g.ints("zero", 0)])  # scalar
    t = g.node("Range", [g.ints("t0", 0), T, g.ints("dt", 1)])  # (T,)
    t = g.node("Unsqueeze", [t, g.ints("ax1", [1])])  # (T, 1)
    m = g.node("Less", [t, lens64])  # (T, B)
    return g.node("Unsqueeze", [m, g.ints("ax2", [2])], "mask")  # (T, B, 1)


def export_scan_layer(
    g: Graph,
    spec: LayerSpec,
    l: int,
    x: str,
    lens64: str,
    mask: str,
    init: list[str | None],
) -> tuple[str, list[str]]:
    """Layer ``l`` over ``x (T, B, I_l)`` by Scan; ``lens64``/``mask`` are ``""`` without lengths.

    Returns ``y (T, B, D*O)`` and each state entry's final value ``(D, B, size)``.
    """
    body_fn = _jordan_body(spec) if spec.family == "jordan" else _lstm_body(spec)
    I = spec.weights[l][0]["weight_ih"].shape[1]
    B = g.node("Gather", [g.node("Shape", [x]), g.ints("one_i", [1])])  # (1,)
    ys, finals = [], []
    for d in range(spec.num_directions):
        starts = []
        for e, size in zip(init, spec.state_sizes, strict=True):
            if e is None:
                shape = g.node("Concat", [B, g.ints("size", [size])], axis=0)
                starts.append(g.node("ConstantOfShape", [shape], "zeros"))
            else:
                starts.append(g.node("Gather", [e, g.ints("dir", d)], axis=0))  # (B, size)
        reverse = d == 1
        x_d = x
        if reverse and lens64:
            x_d = g.node("ReverseSequence", [x, lens64], batch_axis=1, time_axis=0)
        body = g.sub(f"scan_l{l}_d{d}")
        s_in = [
            body.add_input(body.fresh(f"{n}_prev"), [None, s])
            for n, s in zip(spec.state_names, spec.state_sizes, strict=True)
        ]
        x_t = body.add_input(body.fresh("x_t"), [None, I])
        m_t = body.add_input(body.fresh("m_t"), [None, 1], TensorProto.BOOL) if mask else ""
        new = body_fn(body, x_t, s_in, spec.weights[l][d])
        out = new[0]
        if m_t:  # a padded step keeps the state and outputs zeros
            new = [body.node("Where", [m_t, n, p]) for n, p in zip(new, s_in, strict=True)]
            out = body.node("Where", [m_t, out, body.const("zero_f", 0.0)])
        for n, s, v in zip(spec.state_names, spec.state_sizes, new, strict=True):
            body.add_output(v, body.fresh(f"{n}_next"), [None, s])
        body.add_output(out, body.fresh("out_t"), [None, spec.output_size])
        attrs: dict[str, object] = {"body": body.graph(), "num_scan_inputs": 2 if mask else 1}
        if reverse and not lens64:
            attrs |= {
                "scan_input_directions": [1] * (2 if mask else 1),
                "scan_output_directions": [1],
            }
        outs = g.node(
            "Scan",
            [*starts, x_d] + ([mask] if mask else []),
            "scan",
            n_out=len(starts) + 1,
            **attrs,
        )
        y = outs[-1]  # (T, B, O)
        if reverse and lens64:
            y = g.node("ReverseSequence", [y, lens64], batch_axis=1, time_axis=0)
        ys.append(y)
        finals.append([g.node("Unsqueeze", [f, g.ints("ax0", [0])]) for f in outs[:-1]])
    y = ys[0] if len(ys) == 1 else g.node("Concat", ys, axis=2)  # (T, B, D*O)
    per_entry = [list(e) for e in zip(*finals, strict=True)]
    return y, [e[0] if len(e) == 1 else g.node("Concat", e, axis=0) for e in per_entry]
