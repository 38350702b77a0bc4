"""What an exporter needs to know about an rnnkit layer, read from its public face.

Options come from the layer's public attributes and its parameters (names and shapes),
so the exporters do not depend on how :mod:`rnnkit.layers` is built inside. The one thing neither
shows is the activation of an LSTM/GRU/Jordan layer; :func:`_activation_name` reads it from the
attribute of that name when a layer has one, else from the layer's cell math.

Shape letters as in :mod:`rnnkit.cells.base` (``L`` layers, ``D`` directions, ``H`` hidden, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from ..errors import UserError

__all__ = ["LayerSpec", "describe"]


@dataclass
class LayerSpec:
    """One rnnkit recurrent layer (or cell module) as plain numbers and names.

    Attributes:
        family: ``"lstm"``, ``"gru"``, ``"rnn"`` or ``"jordan"``.
        is_cell: a single-step module (``LSTMCell`` ...) rather than a sequence layer.
        weights: ``weights[l][d]`` maps a cell's weight name (``weight_ih``, ``bias_hh``,
            ``weight_ci`` ...) to a float32 array.
        init: learned initial states by state name (``h``, ``c``, ``y``), each ``(L*D, size)``.
        options: family options: ``peephole``, ``coupled``, ``proj_size`` (LSTM), ``reset_after``
            (GRU), ``hidden_to_hidden``, ``output_to_hidden``, ``output_to_output`` (Jordan).
        activations: ``activation``, and ``recurrent_activation`` (LSTM/GRU) or
            ``output_activation`` (Jordan); RNN's ``nonlinearity`` is stored as ``activation``.
    """

    family: str
    is_cell: bool
    input_size: int
    hidden_size: int
    num_layers: int
    num_directions: int
    batch_first: bool
    state_names: tuple[str, ...]
    state_sizes: tuple[int, ...]
    weights: list[list[dict[str, np.ndarray]]]
    init: dict[str, np.ndarray] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    activations: dict[str, str] = field(default_factory=dict)

    @property
    def output_size(self) -> int:
        """Features of one direction's output (``P``, ``H`` or Jordan's ``O``)."""
        return self.state_sizes[0]


_FAMILIES = {
    "LSTM": "lstm",
    "LSTMCell": "lstm",
    "GRU": "gru",
    "GRUCell": "gru",
    "RNN": "rnn",
    "RNNCell": "rnn",
    "JordanRNN": "jordan",
    "JordanCell": "jordan",
}


def _family(module: nn.Module) -> tuple[str, bool]:
    from .. import layers  # the public classes; isinstance keeps subclasses working

    for cls_name, fam in _FAMILIES.items():
        if isinstance(module, getattr(layers, cls_name)):
            return fam, cls_name.endswith("Cell")
    raise UserError(
        f"cannot export a {type(module).__name__}: expected an rnnkit RNN, LSTM, GRU, JordanRNN "
        "or one of their *Cell modules"
    )


def _option(module: nn.Module, attr: str) -> Any:
    value = getattr(module, attr, None)
    if value is None:  # not public on the module: the cell math holds it
        cells = getattr(module, "cells", None)
        cell = cells[0] if cells else getattr(module, "cell", None)
        value = getattr(cell, attr, None)
    if value is None:
        raise UserError(f"{type(module).__name__}: cannot read its {attr}")
    return value


def _activation_name(module: nn.Module, attr: str) -> str:
    value = _option(module, attr)
    name = value if isinstance(value, str) else getattr(value, "name", None)
    if not isinstance(name, str):
        raise UserError(f"{type(module).__name__}: cannot read its {attr}")
    return name


def describe(layer: nn.Module) -> LayerSpec:
    """Read an rnnkit layer or cell module into a :class:`LayerSpec` (weights as float32 numpy).

    >>> import rnnkit
    >>> s = describe(rnnkit.LSTM(3, 5, num_layers=2, bidirectional=True, peephole=True))
    >>> s.family, s.num_layers, s.num_directions, s.options["peephole"], s.weights[1][1]["weight_ih"].shape
    ('lstm', 2, 2, True, (20, 10))
    """
    module: Any = layer  # its public attributes (hidden_size ...) are not typed on nn.Module
    family, is_cell = _family(module)
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    sd = {k: v.detach().cpu().float().numpy() for k, v in module.named_parameters()}
    L = 1 if is_cell else int(module.num_layers)
    D = 2 if (not is_cell and module.bidirectional) else 1
    weights: list[list[dict[str, np.ndarray]]] = []
    for l in range(L):
        per_dir = []
        for d in range(D):
            suffix = "" if is_cell else f"_l{l}" + ("_reverse" if d else "")
            per_dir.append(
                {
                    k[: len(k) - len(suffix)]: v
                    for k, v in sd.items()
                    if suffix == "" or k.endswith(suffix)
                }
            )
        weights.append(per_dir)
    w0 = weights[0][0]
    H = int(module.hidden_size)
    options: dict[str, Any] = {}
    activations = {
        "activation": _activation_name(module, "activation" if family != "rnn" else "nonlinearity")
    }
    if family == "lstm":
        proj = int(getattr(module, "proj_size", 0) or 0)
        options = {
            "peephole": "weight_cf" in w0,
            "coupled": w0["weight_ih"].shape[0] == 3 * H,
            "proj_size": proj,
        }
        activations["recurrent_activation"] = _activation_name(module, "recurrent_activation")
        names, sizes = ("h", "c"), (proj or H, H)
    elif family == "gru":
        options = {"reset_after": bool(_option(module, "reset_after"))}
        activations["recurrent_activation"] = _activation_name(module, "recurrent_activation")
        names, sizes = ("h",), (H,)
    elif family == "rnn":
        names, sizes = ("h",), (H,)
    else:
        O = int(w0["weight_hy"].shape[0])
        options = {
            "hidden_to_hidden": "weight_hh" in w0,
            "output_to_hidden": "weight_yh" in w0,
            "output_to_output": "weight_yy" in w0,
        }
        activations["output_activation"] = _activation_name(module, "output_activation")
        names, sizes = ("y", "h"), (O, H)
    init = {n: sd[f"{n}0"] for n in names if f"{n}0" in sd}
    return LayerSpec(
        family=family,
        is_cell=is_cell,
        input_size=int(module.input_size),
        hidden_size=H,
        num_layers=L,
        num_directions=D,
        batch_first=bool(getattr(module, "batch_first", False)),
        state_names=names,
        state_sizes=sizes,
        weights=weights,
        init=init,
        options=options,
        activations=activations,
    )
