"""The drop-in layers: ``RNN``, ``LSTM``, ``GRU`` — and ``JordanRNN``, which ``torch.nn`` lacks.

Each takes ``torch.nn``'s constructor arguments in the same order, so
``rnnkit.LSTM(...).load_state_dict(torch.nn.LSTM(...).state_dict())`` works unchanged, and adds its
variants as keyword arguments. Options shared by all (see :class:`RecurrentLayer`):

* ``input_dropout``, ``recurrent_dropout`` — variational dropout (Gal & Ghahramani 2016): one mask
  per sequence on each layer's input and on the recurrent state, in training mode only;
* ``learn_init`` — a learned initial state (parameters ``h0``, and ``c0``/``y0``);
* ``stateful`` — carry each row's final state (detached) into the next call; ``reset_state()``;
* ``backend`` — ``"auto"`` (torch's own kernel when the configuration is exactly torch's, else
  rnnkit's fused kernel, else the reference loop with a one-time ``SlowPathWarning``),
  ``"native"`` or ``"fused"`` (that kernel, or an error naming the option it cannot run), or
  ``"reference"`` (the cell stepped in a Python loop, differentiated by autograd);
* Keras's ``kernel_/recurrent_/bias_initializer`` and ``kernel_/recurrent_/bias_/activity_regularizer``.

``forward(input, hx=None, lengths=None, *, return_states=False, return_gates=False)`` returns
torch's ``(output, h_n)``, then every step's states and every step's gates when asked (see
:meth:`~rnnkit.layers.driver.SequenceModule.forward`). A variant that computes something else from
torch-shaped weights (``GRU(reset_after=False)``, other activations) tags its ``state_dict``
(:mod:`rnnkit.layers.params`); a whole pickled layer loads with ``torch.load(f, weights_only=True)``.
To run a single-step cell (``LSTMCell(..., peephole=True)``) over sequences, see
:class:`~rnnkit.layers.Recurrent`.

>>> import torch
>>> lstm = LSTM(3, 5, coupled=True)
>>> out, (h_n, c_n), gates = lstm(torch.randn(7, 4, 3), return_gates=True)
>>> sorted(gates), tuple(gates["f"].shape)  # (L*D, T, B, H); CIFG's i is 1 - f
(['f', 'g', 'i', 'o'], (1, 7, 4, 5))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from ..activations import Activation, get_activation
from ..cells import ElmanMath, GRUMath, JordanMath, LSTMMath
from .base import RecurrentLayer

__all__ = ["GRU", "LSTM", "RNN", "JordanRNN"]

ActivationSpec = str | Activation | Callable[[Tensor], Tensor]


def _check_sizes(name: str, **sizes: int) -> None:
    for arg, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")


def _layer_inputs(input_size: int, out: int, num_layers: int, bidirectional: bool) -> list[int]:
    D = 2 if bidirectional else 1
    return [input_size] + [D * out] * (num_layers - 1)


class RNN(RecurrentLayer):
    """Elman network, drop-in for ``torch.nn.RNN``: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Args:
        nonlinearity: ``"tanh"``, ``"relu"`` (both run torch's native kernel), or any name from
            :mod:`rnnkit.activations` or callable.

    >>> import torch
    >>> rnn = RNN(3, 5, num_layers=2)
    >>> out, h_n = rnn(torch.randn(7, 4, 3))
    >>> tuple(out.shape), tuple(h_n.shape)
    ((7, 4, 5), (2, 4, 5))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: ActivationSpec = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        _check_sizes(
            type(self).__name__,
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )
        act = get_activation(nonlinearity, "nonlinearity")
        self.nonlinearity = act.name
        cells = [
            ElmanMath(i, hidden_size, act)
            for i in _layer_inputs(input_size, hidden_size, num_layers, bidirectional)
        ]
        super().__init__(
            cells,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
            **options,
        )


class LSTM(RecurrentLayer):
    """LSTM with forget gate, drop-in for ``torch.nn.LSTM``, plus its classic variants.

    The equations, gate order and parameter shapes are in :mod:`rnnkit.cells.lstm`.

    Args:
        peephole: diagonal peephole weights ``weight_ci/cf/co_l{k}`` (Gers & Schmidhuber 2000).
        coupled: CIFG, ``i = 1 - f`` (Greff et al. 2015); ``weight_ih_l{k}`` is ``(3H, I)``, gates ``f, g, o``.
        unit_forget_bias: forget-gate bias initialised to 1 (Jozefowicz et al. 2015).
        activation: cell input/output activation (default ``"tanh"``).
        recurrent_activation: gate activation (default ``"sigmoid"``); e.g. ``"hard_sigmoid_keras2"``.
        use_bias: Keras's name for ``bias``.

    >>> import torch
    >>> lstm = LSTM(3, 5, peephole=True)
    >>> out, (h_n, c_n) = lstm(torch.randn(7, 4, 3))
    >>> sorted(n for n, _ in lstm.named_parameters() if "weight_c" in n)
    ['weight_cf_l0', 'weight_ci_l0', 'weight_co_l0']
    """

    state_names = ("h", "c")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
        *,
        peephole: bool = False,
        coupled: bool = False,
        unit_forget_bias: bool = False,
        activation: ActivationSpec = "tanh",
        recurrent_activation: ActivationSpec = "sigmoid",
        use_bias: bool | None = None,
        **options: Any,
    ) -> None:
        name = type(self).__name__
        _check_sizes(name, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if (
            not isinstance(proj_size, int)
            or proj_size < 0
            or (proj_size and proj_size >= hidden_size)
        ):
            raise ValueError(
                f"{name}: proj_size must be an integer in [0, hidden_size={hidden_size}), got {proj_size!r}"
            )
        bias = bias if use_bias is None else use_bias
        if unit_forget_bias and not bias:
            raise ValueError(f"{name}: unit_forget_bias=True needs bias=True")
        self.proj_size = proj_size
        act = get_activation(activation, "activation")
        rec = get_activation(recurrent_activation, "recurrent_activation")
        cells = [
            LSTMMath(i, hidden_size, act, rec, proj_size, peephole, coupled, unit_forget_bias)
            for i in _layer_inputs(input_size, proj_size or hidden_size, num_layers, bidirectional)
        ]
        super().__init__(
            cells,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
            **options,
        )


class GRU(RecurrentLayer):
    """GRU, drop-in for ``torch.nn.GRU``, in both formulations (see :mod:`rnnkit.cells.gru`).

    Args:
        reset_after: ``True`` (PyTorch, cuDNN) applies the reset gate after the recurrent matmul;
            ``False`` (Cho et al. 2014, Keras ``reset_after=False``) before it.
        activation, recurrent_activation: as for :class:`LSTM`.

    >>> import torch
    >>> gru = GRU(3, 5, reset_after=False, batch_first=True)
    >>> out, h_n = gru(torch.randn(4, 7, 3))
    >>> tuple(out.shape)
    (4, 7, 5)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        reset_after: bool = True,
        activation: ActivationSpec = "tanh",
        recurrent_activation: ActivationSpec = "sigmoid",
        use_bias: bool | None = None,
        **options: Any,
    ) -> None:
        _check_sizes(
            type(self).__name__,
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
        )
        bias = bias if use_bias is None else use_bias
        self.reset_after = reset_after
        act = get_activation(activation, "activation")
        rec = get_activation(recurrent_activation, "recurrent_activation")
        cells = [
            GRUMath(i, hidden_size, act, rec, reset_after)
            for i in _layer_inputs(input_size, hidden_size, num_layers, bidirectional)
        ]
        super().__init__(
            cells,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
            **options,
        )


class JordanRNN(RecurrentLayer):
    """The three classic recurrences — hidden-to-hidden, output-to-hidden, output-to-output.

    Equations in :mod:`rnnkit.cells.jordan`. The layer's output is ``y_t`` (``output_size`` units,
    ``D * output_size`` when bidirectional), and stacked layers feed ``y`` upward. Its state is
    ``(y, h)``; ``hx`` and ``h_n`` are that tuple, each ``(L*D, B, size)``.

    Args:
        output_size: units in the output layer ``y``.
        hidden_to_hidden: the Elman recurrence ``W_hh h_{t-1}`` (default off: a pure Jordan network).
        output_to_hidden: the Jordan recurrence ``W_yh y_{t-1}`` (default on).
        output_to_output: ``W_yy y_{t-1}`` into the output layer (default off).
        activation: hidden activation (tanh); output_activation: output activation (tanh).

    >>> import torch
    >>> net = JordanRNN(3, 8, 2, output_to_output=True)
    >>> y, (y_n, h_n) = net(torch.randn(5, 4, 3))
    >>> tuple(y.shape), tuple(h_n.shape)
    ((5, 4, 2), (1, 4, 8))
    """

    state_names = ("y", "h")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        hidden_to_hidden: bool = False,
        output_to_hidden: bool = True,
        output_to_output: bool = False,
        activation: ActivationSpec = "tanh",
        output_activation: ActivationSpec = "tanh",
        use_bias: bool | None = None,
        **options: Any,
    ) -> None:
        _check_sizes(
            type(self).__name__,
            input_size=input_size,
            hidden_size=hidden_size,
            output_size=output_size,
            num_layers=num_layers,
        )
        bias = bias if use_bias is None else use_bias
        self.output_size = output_size
        act = get_activation(activation, "activation")
        out_act = get_activation(output_activation, "output_activation")
        cells = [
            JordanMath(
                i,
                hidden_size,
                output_size,
                act,
                out_act,
                hidden_to_hidden,
                output_to_hidden,
                output_to_output,
            )
            for i in _layer_inputs(input_size, output_size, num_layers, bidirectional)
        ]
        super().__init__(
            cells,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            device=device,
            dtype=dtype,
            **options,
        )
