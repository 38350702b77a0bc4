"""A small builder over ``onnx.helper``: unique names, constants, nodes, and the finished model.

Nothing rnnkit-specific lives here; :mod:`.onnx_layers` and :mod:`.onnx_scan` write the recurrent
parts with it. Activation names map to ONNX here too, the one table both need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import UserError

__all__ = ["ONNX_ACTIVATIONS", "Graph", "onnx_activation"]

# rnnkit activation name -> (ONNX name, alpha, beta); alpha/beta None where the function takes none.
ONNX_ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None),
    "softsign": ("Softsign", None, None),
    "identity": ("Affine", 1.0, 0.0),
    "hard_sigmoid_keras2": ("HardSigmoid", 0.2, 0.5),  # clip(0.2 x + 0.5, 0, 1)
    "hard_sigmoid_keras3": ("HardSigmoid", 1 / 6, 0.5),  # clip(x / 6 + 0.5, 0, 1)
}


def onnx_activation(name: str, option: str) -> tuple[str, float | None, float | None]:
    """The ONNX form of an rnnkit activation, or a UserError naming the option that holds it."""
    if name not in ONNX_ACTIVATIONS:
        raise UserError(
            f"{option}={name!r} cannot be exported to ONNX: it is not a named rnnkit activation "
            f"(ONNX can express {sorted(ONNX_ACTIVATIONS)})"
        )
    return ONNX_ACTIVATIONS[name]


Dims = Sequence[int | str | None]


class Graph:
    """Collects nodes, initializers, inputs and outputs; hands out unique value names."""

    def __init__(self, name: str = "rnnkit") -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._used: set[str] = set()

    def sub(self, name: str) -> Graph:
        """A body graph (for Scan) that shares this graph's names, so none is defined twice."""
        body = Graph(name)
        body._used = self._used
        return body

    def fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def const(self, base: str, value: Any, dtype: Any = np.float32) -> str:
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ints(self, base: str, values: int | list[int]) -> str:
        return self.const(base, values, np.int64)

    def node(
        self, op: str, inputs: list[str], base: str | None = None, n_out: int = 1, **attrs: Any
    ) -> Any:
        """Add a node; returns its output name (or a list when ``n_out > 1``)."""
        outs = [
            self.fresh(f"{base or op.lower()}" + (f"_o{i}" if n_out > 1 else ""))
            for i in range(n_out)
        ]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.fresh(f"n_{op}"), **attrs))
        return outs[0] if n_out == 1 else outs

    def act(self, name: str, x: str, option: str) -> str:
        """Apply an rnnkit activation as a standalone ONNX node (for Scan bodies)."""
        op, alpha, beta = onnx_activation(name, option)
        if op == "Affine":  # only the identity maps here
            return self.node("Identity", [x])
        attrs: dict[str, Any] = {} if alpha is None else {"alpha": alpha, "beta": beta}
        return self.node(op, [x], **attrs)

    def add_input(self, name: str, dims: Dims, elem: int = TensorProto.FLOAT) -> str:
        self._used.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, elem, dims))
        return name

    def add_output(self, value: str, name: str, dims: Dims, elem: int = TensorProto.FLOAT) -> None:
        """Expose ``value`` as graph output ``name`` (through an Identity when the names differ)."""
        if value != name:
            self._used.add(name)
            self.nodes.append(
                helper.make_node("Identity", [value], [name], name=self.fresh("n_out"))
            )
        self.outputs.append(helper.make_tensor_value_info(name, elem, dims))

    def graph(self) -> onnx.GraphProto:
        return helper.make_graph(
            self.nodes, self.name, self.inputs, self.outputs, initializer=self.initializers
        )

    def model(self, opset: int) -> onnx.ModelProto:
        ops = [helper.make_opsetid("", opset)]
        model = helper.make_model(self.graph(), opset_imports=ops, producer_name="rnnkit")
        model.ir_version = helper.find_min_ir_version_for(ops)
        onnx.checker.check_model(model, full_check=True)
        return model
