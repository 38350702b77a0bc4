"""``to_onnx``: an rnnkit recurrent layer or cell module as an ONNX graph, built with ``onnx.helper``.

Graph of a sequence layer (dims ``time`` and ``batch`` are dynamic)::

    inputs   input (T, B, I)  [(B, T, I) with batch_first]
             lengths (B,) int64           with lengths=True
             h_0, c_0 / y_0, h_0 (L*D, B, size)   with initial_state=True
    outputs  output (T, B, D*O)  [(B, T, D*O)],  h_n, c_n / y_n, h_n (L*D, B, size)

Each layer is one ONNX ``LSTM``/``GRU``/``RNN`` node when that operator computes the configuration
exactly (:mod:`.onnx_layers`), else a ``Scan`` over the cell step (:mod:`.onnx_scan`). Batch-first
goes through ``Transpose`` nodes: onnxruntime rejects ``layout=1``.

Zero-length rows: onnxruntime's fused operators return zeros as their final state, not the initial
state; rnnkit returns the initial state, so the graph puts it back with ``Where(lengths == 0, ...)``.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto
from torch import nn

from ..errors import UserError
from ..runs import atomic_write
from .onnx_graph import Graph
from .onnx_layers import export_native_layer, native_reason
from .onnx_scan import export_scan_layer, length_mask
from .spec import LayerSpec, describe

__all__ = ["DEFAULT_OPSET", "initial_states", "recurrent_stack", "save_model", "to_onnx"]

DEFAULT_OPSET = 17


def recurrent_stack(
    g: Graph, spec: LayerSpec, x: str, lens64: str, init: list[str | None]
) -> tuple[str, list[str]]:
    """All layers of ``spec`` over time-major ``x (T, B, I)``.

    Args:
        lens64: an int64 ``(B,)`` value name, or ``""`` when every row has ``T`` steps.
        init: per state entry, an ``(L*D, B, size)`` value name, or None for zeros.

    Returns:
        ``(y (T, B, D*O), finals)``, ``finals`` one ``(L*D, B, size)`` name per state entry.
    """
    D, L = spec.num_directions, spec.num_layers
    scan = native_reason(spec) is not None
    lens32 = g.node("Cast", [lens64], "lens32", to=TensorProto.INT32) if lens64 and not scan else ""
    mask = length_mask(g, x, lens64) if lens64 and scan else ""
    empty = ""
    if lens64 and not scan and any(e is not None for e in init):
        empty = g.node("Equal", [lens64, g.ints("zero_len", 0)])  # (B,)
        empty = g.node("Unsqueeze", [empty, g.ints("ax02", [0, 2])], "empty_rows")  # (1, B, 1)
    per_layer: list[list[str]] = []
    for l in range(L):
        start = [None if e is None else _layer_slice(g, e, l * D, (l + 1) * D) for e in init]
        if scan:
            x, finals = export_scan_layer(g, spec, l, x, lens64, mask, start)
        else:
            x, finals = export_native_layer(g, spec, l, x, lens32, start)
            if empty:  # the op gives zeros for a zero-length row; rnnkit gives the initial state
                finals = [
                    f if s is None else g.node("Where", [empty, s, f])
                    for f, s in zip(finals, start, strict=True)
                ]
        per_layer.append(finals)
    outs = [
        e[0] if L == 1 else g.node("Concat", list(e), axis=0) for e in zip(*per_layer, strict=True)
    ]
    return x, outs


def _layer_slice(g: Graph, e: str, lo: int, hi: int) -> str:
    """Rows ``lo:hi`` of a ``(L*D, B, size)`` state: one layer's ``(D, B, size)``."""
    return g.node("Slice", [e, g.ints("lo", [lo]), g.ints("hi", [hi]), g.ints("ax0", [0])])


def _learned_init(g: Graph, spec: LayerSpec, name: str, batch: str) -> str:
    """A learned initial state ``(L*D, size)`` broadcast over the batch: ``(L*D, B, size)``."""
    v = g.const(f"{name}0", spec.init[name][:, None, :])  # (L*D, 1, size)
    shape = g.node("Concat", [g.ints("one", [1]), batch, g.ints("one", [1])], axis=0)
    return g.node("Expand", [v, shape], f"{name}_init")


def initial_states(g: Graph, spec: LayerSpec, x: str, suffix: str | None) -> list[str | None]:
    """Each state entry's start ``(L*D, B, size)``: graph inputs named ``{state}{suffix}`` when
    ``suffix`` is given, else the learned initial state, else None (zeros). ``x`` is the
    time-major input (read for the batch size)."""
    LD = spec.num_layers * spec.num_directions
    init: list[str | None] = []
    for n, size in zip(spec.state_names, spec.state_sizes, strict=True):
        if suffix is not None:
            init.append(g.add_input(f"{n}{suffix}", [LD, "batch", size]))
        elif n in spec.init:
            batch = g.node("Gather", [g.node("Shape", [x]), g.ints("one_i", [1])])  # (1,)
            init.append(_learned_init(g, spec, n, batch))
        else:
            init.append(None)
    return init


def _layer_graph(spec: LayerSpec, lengths: bool, initial_state: bool) -> Graph:
    g = Graph("rnnkit_" + spec.family)
    T, B = "time", "batch"
    dims: list[int | str | None] = (
        [B, T, spec.input_size] if spec.batch_first else [T, B, spec.input_size]
    )
    x = g.add_input("input", dims)
    if spec.batch_first:
        x = g.node("Transpose", [x], "input_tm", perm=[1, 0, 2])  # (T, B, I)
    lens = g.add_input("lengths", [B], TensorProto.INT64) if lengths else ""
    LD = spec.num_layers * spec.num_directions
    init = initial_states(g, spec, x, "_0" if initial_state else None)
    y, finals = recurrent_stack(g, spec, x, lens, init)
    O = spec.num_directions * spec.output_size
    if spec.batch_first:
        y = g.node("Transpose", [y], perm=[1, 0, 2])
    g.add_output(y, "output", [B, T, O] if spec.batch_first else [T, B, O])
    for n, size, f in zip(spec.state_names, spec.state_sizes, finals, strict=True):
        g.add_output(f, f"{n}_n", [LD, B, size])
    return g


def _cell_graph(spec: LayerSpec) -> Graph:
    g = Graph("rnnkit_" + spec.family + "_cell")
    B = "batch"
    ax0 = g.ints("ax0", [0])
    x = g.node("Unsqueeze", [g.add_input("input", [B, spec.input_size]), ax0])  # (1, B, I)
    init: list[str | None] = [
        g.node("Unsqueeze", [g.add_input(n, [B, size]), ax0])  # (1, B, size)
        for n, size in zip(spec.state_names, spec.state_sizes, strict=True)
    ]
    _, finals = recurrent_stack(g, spec, x, "", init)
    for n, size, f in zip(spec.state_names, spec.state_sizes, finals, strict=True):
        g.add_output(g.node("Squeeze", [f, ax0]), f"{n}_next", [B, size])
    return g


def save_model(model: onnx.ModelProto, path: str | Path) -> None:
    """Write ``model`` to ``path`` atomically; a UserError naming the path when it cannot."""
    data = model.SerializeToString()

    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    try:
        atomic_write(path, write)
    except OSError as e:  # e.g. a missing directory, before a temporary file exists
        raise UserError(f"could not write {path}: {e.strerror or e}") from e


def to_onnx(
    module: nn.Module,
    path: str | Path | None = None,
    *,
    lengths: bool = False,
    initial_state: bool = False,
    opset: int = DEFAULT_OPSET,
) -> onnx.ModelProto:
    """Export an rnnkit layer (``RNN``, ``LSTM``, ``GRU``, ``JordanRNN``) or cell module to ONNX.

    Args:
        module: the layer; its eval-mode computation is exported (dropout is off).
        path: where to write the ``.onnx`` file (``None``: only return the model).
        lengths: add an int64 ``lengths (B,)`` input; outputs past a row's length are zeros and its
            final state is the state at its last valid step (the initial state for length 0).
        initial_state: add inputs ``h_0`` (and ``c_0``; ``y_0``, ``h_0`` for Jordan) shaped
            ``(L*D, B, size)``; otherwise zeros, or the learned initial state (``learn_init``).
            Cell modules always take their state (``h``, ``c`` ...) and return ``h_next`` ...
        opset: ONNX opset, 14 to 22 (17 by default).

    Returns:
        The checked ``onnx.ModelProto``.

    Raises:
        UserError: an option ONNX cannot express (a custom activation callable), an opset out of
            range, or a path that cannot be written.

    >>> import rnnkit
    >>> m = to_onnx(rnnkit.GRU(3, 4, reset_after=False), lengths=True)
    >>> [n.op_type for n in m.graph.node if n.op_type == "GRU"], [i.name for i in m.graph.input]
    (['GRU'], ['input', 'lengths'])
    """
    if not 14 <= opset <= 22:
        raise UserError(f"opset={opset} is not supported: choose 14 to 22")
    spec = describe(module)
    g = _cell_graph(spec) if spec.is_cell else _layer_graph(spec, lengths, initial_state)
    model = g.model(opset)
    if path is not None:
        save_model(model, path)
    return model
