"""Whole task models as ONNX graphs: input (embedding, one-hot or scaled features), the recurrent
stack (:func:`~.onnx_export.recurrent_stack`), and the head.

* a :class:`~rnnkit.models.LanguageModel` — ``symbols (T, B)`` int64 -> ``logits (T, B, V)`` and
  the final state; or, with ``step=True``, one symbol and the state in -> the next symbol's
  ``logits (B, V)`` and the new state out (``h``, ``c`` -> ``h_next``, ``c_next``, each
  ``(L, B, size)``), so a deployed model samples without rerunning the prefix;
* a ``SequenceClassifier`` / ``SequenceRegressor`` — ``input (B, T)`` token ids or ``(B, T, F)``
  features and ``lengths (B,)`` -> ``logits (B, C)`` / ``prediction (B,)``, pooled as the model
  pools (last valid step, mean or max over valid steps);
* a ``SequenceTagger`` — ``input``, ``lengths`` -> ``logits (B, T, C)``.

A run's feature scaler is folded into the graph when given (raw features in, ``(x - mean) / std``
inside), and so is a regression target's (``y * std + mean`` out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto
from torch import nn

from ..errors import UserError
from .onnx_export import DEFAULT_OPSET, initial_states, recurrent_stack, save_model
from .onnx_graph import Graph
from .spec import describe

__all__ = ["model_to_onnx"]


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().float().numpy()


def _linear(g: Graph, x: str, lin: nn.Linear) -> str:
    """``lin(x)`` on any leading shape: ``x Wᵀ + b``."""
    y = g.node("MatMul", [x, g.const("head_wt", _np(lin.weight).T)])
    return g.node("Add", [y, g.const("head_b", _np(lin.bias))]) if lin.bias is not None else y


def _lm_graph(lm: Any, step: bool, initial_state: bool) -> Graph:
    g = Graph("rnnkit_language_model" + ("_step" if step else ""))
    spec = describe(lm.rnn)
    if step:
        sym = g.add_input("symbol", ["batch"], TensorProto.INT64)
        ids = g.node("Unsqueeze", [sym, g.ints("ax0", [0])])  # (1, B)
    else:
        ids = g.add_input("symbols", ["time", "batch"], TensorProto.INT64)  # (T, B)
    if lm.embed is not None:
        x = g.node("Gather", [g.const("embedding", _np(lm.embed.weight)), ids])  # (T, B, E)
    else:  # one-hot, the classic input
        depth, values = g.ints("vocab", [lm.vocab_size]), g.const("onehot", [0.0, 1.0])
        x = g.node("OneHot", [ids, depth, values], axis=-1)  # (T, B, V)
    init = initial_states(g, spec, x, "" if step else ("_0" if initial_state else None))
    y, finals = recurrent_stack(g, spec, x, "", init)  # (T, B, O)
    logits = _linear(g, y, lm.head)  # (T, B, V)
    V, L = lm.vocab_size, spec.num_layers
    if step:
        g.add_output(g.node("Squeeze", [logits, g.ints("ax0", [0])]), "logits", ["batch", V])
    else:
        g.add_output(logits, "logits", ["time", "batch", V])
    for n, size, f in zip(spec.state_names, spec.state_sizes, finals, strict=True):
        g.add_output(f, f"{n}_next" if step else f"{n}_n", [L, "batch", size])
    return g


def _reduce(g: Graph, op: str, x: str, axis: int, opset: int) -> str:
    """``op`` over ``axis`` without keeping it (axes became an input of ReduceMax at opset 18)."""
    if op == "ReduceSum" or opset >= 18:
        return g.node(op, [x, g.ints("axes", [axis])], keepdims=0)
    return g.node(op, [x], axes=[axis], keepdims=0)


def _pool(g: Graph, name: str, y: str, lens: str, D: int, O: int, opset: int) -> str:
    """``y (B, T, D*O)`` -> ``(B, D*O)`` as :mod:`rnnkit.models.classifier` pools."""
    if name == "mean":
        total = _reduce(g, "ReduceSum", y, 1, opset)  # padded steps are 0
        n = g.node("Cast", [g.node("Max", [lens, g.ints("one", 1)])], to=TensorProto.FLOAT)
        return g.node("Div", [total, g.node("Unsqueeze", [n, g.ints("ax1", [1])])])
    if name == "max":
        T = g.node("Gather", [g.node("Shape", [y]), g.ints("one", 1)])
        t = g.node("Range", [g.ints("t0", 0), T, g.ints("dt", 1)])  # (T,)
        valid = g.node(
            "Less",
            [
                g.node("Unsqueeze", [t, g.ints("ax0", [0])]),
                g.node("Unsqueeze", [lens, g.ints("ax1", [1])]),
            ],
        )
        valid = g.node("Unsqueeze", [valid, g.ints("ax2", [2])])  # (B, T, 1)
        best = _reduce(
            g, "ReduceMax", g.node("Where", [valid, y, g.const("ninf", -np.inf)]), 1, opset
        )
        return g.node("Where", [g.node("IsInf", [best]), g.const("zero", 0.0), best])
    # last: forward half at step length - 1 (0 for an empty row), backward half at step 0
    idx = g.node("Max", [g.node("Sub", [lens, g.ints("one", 1)]), g.ints("zero_i", 0)])  # (B,)
    idx = g.node("Unsqueeze", [idx, g.ints("ax12", [1, 2])])  # (B, 1, 1)
    idx = g.node("Expand", [idx, g.ints("shape_o", [1, 1, O])])  # (B, 1, O)
    fw = g.node("Slice", [y, g.ints("s0", [0]), g.ints("s1", [O]), g.ints("ax2", [2])])  # (B, T, O)
    fw = g.node("Squeeze", [g.node("GatherElements", [fw, idx], axis=1), g.ints("ax1", [1])])
    alive = g.node("Cast", [g.node("Greater", [lens, g.ints("zero_i", 0)])], to=TensorProto.FLOAT)
    fw = g.node("Mul", [fw, g.node("Unsqueeze", [alive, g.ints("ax1", [1])])])  # (B, O)
    if D == 1:
        return fw
    bw = g.node(
        "Slice", [y, g.ints("b0", [0, O]), g.ints("b1", [1, 2 * O]), g.ints("ax12", [1, 2])]
    )
    return g.node("Concat", [fw, g.node("Squeeze", [bw, g.ints("ax1", [1])])], axis=1)


def _pooling_name(pool: Any) -> str:
    from ..models.classifier import POOLINGS

    for name, fn in POOLINGS.items():
        if pool is fn:
            return name
    raise UserError(
        f"a custom pooling function ({getattr(pool, '__name__', pool)}) cannot be exported to ONNX"
    )


def _sequence_graph(model: Any, scaler: Any, opset: int) -> Graph:
    from ..models import SequenceRegressor, SequenceTagger

    tagger = isinstance(model, SequenceTagger)
    g = Graph("rnnkit_" + type(model).__name__)
    enc = model.encoder
    spec = describe(enc.layer)
    lens = g.add_input("lengths", ["batch"], TensorProto.INT64)
    if enc.embedding is not None:
        ids = g.add_input("input", ["batch", "time"], TensorProto.INT64)
        x = g.node("Gather", [g.const("embedding", _np(enc.embedding.weight)), ids])  # (B, T, E)
    else:
        x = g.add_input("input", ["batch", "time", spec.input_size])
        mean = getattr(scaler, "feature_mean", None)
        if mean is not None:  # the run's z-scoring, as Encoders.scale does it
            x = g.node("Sub", [x, g.const("feature_mean", mean)])
            x = g.node("Div", [x, g.const("feature_std", scaler.feature_std)])
    x = g.node("Transpose", [x], perm=[1, 0, 2])  # (T, B, I)
    y, _ = recurrent_stack(g, spec, x, lens, initial_states(g, spec, x, None))
    y = g.node("Transpose", [y], perm=[1, 0, 2])  # (B, T, D*O)
    C = model.head.out_features
    if tagger:
        g.add_output(_linear(g, y, model.head), "logits", ["batch", "time", C])
        return g
    D, O = spec.num_directions, spec.output_size
    out = _linear(
        g, _pool(g, _pooling_name(model.pool), y, lens, D, O, opset), model.head
    )  # (B, C)
    if not isinstance(model, SequenceRegressor):
        g.add_output(out, "logits", ["batch", C])
        return g
    if scaler is not None:  # back to the target's units
        out = g.node(
            "Add",
            [
                g.node("Mul", [out, g.const("target_std", scaler.target_std)]),
                g.const("target_mean", scaler.target_mean),
            ],
        )
    if model.num_outputs == 1:
        out = g.node("Squeeze", [out, g.ints("ax1", [1])])
        g.add_output(out, "prediction", ["batch"])
    else:
        g.add_output(out, "prediction", ["batch", C])
    return g


def model_to_onnx(
    model: nn.Module,
    path: str | Path | None = None,
    *,
    step: bool = False,
    initial_state: bool = False,
    scaler: Any = None,
    metadata: dict[str, str] | None = None,
    opset: int = DEFAULT_OPSET,
) -> onnx.ModelProto:
    """Export a ``LanguageModel`` (whole, or one ``step``), ``SequenceClassifier``,
    ``SequenceRegressor`` or ``SequenceTagger`` to ONNX (eval-mode computation).

    Args:
        step: language models only: the one-symbol step graph.
        initial_state: language models only (whole graph): take ``h_0`` (``c_0``) as inputs.
        scaler: a sequence run's :class:`~rnnkit.tasks.config.Encoders` (feature and target
            scaling folded into the graph), or None.
        metadata: strings stored in the model's ``metadata_props`` (vocabulary, label names).

    Raises:
        UserError: another kind of model, an option ONNX cannot express, an unwritable path.
    """
    from ..models import LanguageModel, SequenceClassifier, SequenceTagger

    if not 14 <= opset <= 22:
        raise UserError(f"opset={opset} is not supported: choose 14 to 22")
    if isinstance(model, LanguageModel):
        g = _lm_graph(model, step, initial_state)
    elif isinstance(model, (SequenceClassifier, SequenceTagger)):
        if step:
            raise UserError("--step applies to text (language model) runs only")
        g = _sequence_graph(model, scaler, opset)
    else:
        raise UserError(f"cannot export a {type(model).__name__} to ONNX (no exporter for it yet)")
    onnx_model = g.model(opset)
    for key, value in (metadata or {}).items():
        onnx_model.metadata_props.add(key=key, value=value)
    if path is not None:
        save_model(onnx_model, path)
    return onnx_model
