"""Activation functions by name, each with its derivative written in terms of its output.

The derivative-from-output form ``dy/dx = d(y)`` is what a hand-written backward pass needs: it can
keep the gate values it already computed instead of the pre-activations.

========================  =====================================  =======================
name                      y = f(x)                               dy/dx as a function of y
========================  =====================================  =======================
``tanh``                  tanh(x)                                1 - y²
``sigmoid``               1 / (1 + e^-x)                         y (1 - y)
``relu``                  max(x, 0)                              [y > 0]
``softsign``              x / (1 + |x|)                          (1 - |y|)²
``identity``              x                                      1
``hard_sigmoid_keras2``   clip(0.2 x + 0.5, 0, 1)   (Keras 2)    0.2 [0 < y < 1]
``hard_sigmoid_keras3``   clip(x / 6 + 0.5, 0, 1)   (Keras 3,    1/6 [0 < y < 1]
                          PyTorch ``hardsigmoid``)
========================  =====================================  =======================

The bare name ``hard_sigmoid`` is refused on purpose: Keras 2 and Keras 3 give it different slopes
(keras PR #19477), and a model converted between them silently changes. Say which one you mean.

>>> get_activation("hard_sigmoid_keras2")(torch.tensor([0.0, 1.0, 10.0]))
tensor([0.5000, 0.7000, 1.0000])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """A named elementwise function with its derivative in terms of its output.

    Attributes:
        name: the name it is looked up by (also what a config file stores).
        fn: ``y = fn(x)``.
        grad_from_output: ``dy/dx`` as a function of ``y``; ``None`` for a user callable whose
            derivative is unknown (then only autograd can differentiate it).
    """

    name: str
    fn: Callable[[Tensor], Tensor]
    grad_from_output: Callable[[Tensor], Tensor] | None = None

    def __call__(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def __reduce__(self) -> str | tuple[object, ...]:
        # a named activation unpickles as the registry's own object, so cells still compare equal
        if ACTIVATIONS.get(self.name) is self:
            return (get_activation, (self.name,))
        return super().__reduce__()


# Module-level functions (not lambdas), so layers that hold them can be pickled and deep-copied.
def _identity(x: Tensor) -> Tensor:
    return x


def _tanh_grad(y: Tensor) -> Tensor:
    return 1 - y * y


def _sigmoid_grad(y: Tensor) -> Tensor:
    return y * (1 - y)


def _relu_grad(y: Tensor) -> Tensor:
    return (y > 0).to(y.dtype)


def _softsign_grad(y: Tensor) -> Tensor:
    return (1 - y.abs()) ** 2


def _hard_sigmoid(x: Tensor, slope: float) -> Tensor:
    return torch.clamp(x * slope + 0.5, 0.0, 1.0)


def _hard_sigmoid_grad(y: Tensor, slope: float) -> Tensor:
    return ((y > 0) & (y < 1)).to(y.dtype) * slope


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("tanh", torch.tanh, _tanh_grad),
        Activation("sigmoid", torch.sigmoid, _sigmoid_grad),
        Activation("relu", torch.relu, _relu_grad),
        Activation("softsign", F.softsign, _softsign_grad),
        Activation("identity", _identity, torch.ones_like),
        Activation(
            "hard_sigmoid_keras2",
            partial(_hard_sigmoid, slope=0.2),
            partial(_hard_sigmoid_grad, slope=0.2),
        ),
        Activation(
            "hard_sigmoid_keras3",
            partial(_hard_sigmoid, slope=1 / 6),
            partial(_hard_sigmoid_grad, slope=1 / 6),
        ),
    ]
}
ACTIVATIONS["linear"] = ACTIVATIONS["identity"]  # Keras's name for it
ACTIVATIONS["hard_sigmoid_torch"] = ACTIVATIONS["hard_sigmoid_keras3"]


def get_activation(
    spec: str | Activation | Callable[[Tensor], Tensor], arg: str = "activation"
) -> Activation:
    """Resolve a name, an :class:`Activation` or any callable into an :class:`Activation`.

    Args:
        spec: a name from :data:`ACTIVATIONS`, an :class:`Activation`, or a callable ``Tensor -> Tensor``.
        arg: the argument name to quote in the error message.

    Raises:
        ValueError: for an unknown name, naming ``arg`` and listing the known names.
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        if spec == "hard_sigmoid":
            raise ValueError(
                f"{arg}='hard_sigmoid' is ambiguous: use 'hard_sigmoid_keras2' (0.2x + 0.5) or "
                "'hard_sigmoid_keras3' (x/6 + 0.5, also PyTorch's hardsigmoid)"
            )
        if spec not in ACTIVATIONS:
            raise ValueError(f"{arg}={spec!r} is unknown; choose one of {sorted(ACTIVATIONS)}")
        return ACTIVATIONS[spec]
    if callable(spec):
        return Activation(getattr(spec, "__name__", "custom"), spec, None)
    raise ValueError(f"{arg} must be a name or a callable, got {type(spec).__name__}")
