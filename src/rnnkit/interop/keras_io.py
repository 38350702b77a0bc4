"""Keras 3 ``LSTM``, ``GRU`` and ``SimpleRNN`` weights into rnnkit layers and back.

Keras stores ``kernel (I, G*H)``, ``recurrent_kernel (H, G*H)`` (columns are gates) and one bias;
rnnkit (as torch) stores ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)`` (rows are gates) and two::

    LSTM       Keras i, f, c, o   = rnnkit i, f, g, o   weight = kernelᵀ; bias_ih = bias, bias_hh = 0
    GRU        Keras z, r, h      -> rnnkit r, z, n     rows swapped; reset_after=True:
                                                        bias_ih = bias[0], bias_hh = bias[1];
                                                        reset_after=False: bias_ih = bias, bias_hh = 0
    SimpleRNN  weight = kernelᵀ; bias_ih = bias, bias_hh = 0

Back to Keras the two biases add up (Keras has one, or one per side for GRU ``reset_after=True``),
which is exact because ``b_hh`` sits outside every gate product except GRU's ``r ⊙ (W_hn h + b_hn)``
— and that is the case where Keras keeps two. Keras ↔ rnnkit ↔ Keras therefore returns the same
weights bit for bit. rnnkit layers made here are ``batch_first`` (Keras's layout).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import layers
from ..errors import UserError
from .keras_files import SUPPORTED, KerasLayer, read_keras_file
from .spec import LayerSpec, describe

__all__ = ["from_keras", "keras_layer_info", "save_keras", "to_keras"]

_FROM_KERAS_ACT: dict[str | None, str] = {
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "relu": "relu",
    "softsign": "softsign",
}
_FROM_KERAS_ACT |= {"linear": "identity", None: "identity"}
_TO_KERAS_ACT = {"tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu", "softsign": "softsign"}
_TO_KERAS_ACT |= {"identity": "linear", "hard_sigmoid_keras3": "hard_sigmoid"}


def _swap_rz(a: np.ndarray, H: int) -> np.ndarray:
    """GRU gate blocks along axis 0: ``r, z, n`` <-> ``z, r, h`` (the map is its own inverse)."""
    return np.concatenate([a[H : 2 * H], a[:H], a[2 * H :]], axis=0)


def _act_from_keras(value: Any, option: str, layer: KerasLayer) -> str:
    name = (
        value.get("config", {}).get("name", value.get("class_name"))
        if isinstance(value, dict)
        else value
    )
    if name == "hard_sigmoid":
        return "hard_sigmoid_keras2" if layer.keras_major < 3 else "hard_sigmoid_keras3"
    if name not in _FROM_KERAS_ACT:
        raise UserError(f"Keras layer {layer.name!r}: {option}={name!r} has no rnnkit equivalent")
    return _FROM_KERAS_ACT[name]


def _check_options(layer: KerasLayer) -> None:
    if layer.class_name not in SUPPORTED:
        raise UserError(
            f"Keras layer {layer.name!r} of type {layer.class_name} has no rnnkit equivalent "
            f"(supported: {', '.join(SUPPORTED)} and Bidirectional of them)"
        )
    if layer.config.get("go_backwards"):
        raise UserError(f"Keras layer {layer.name!r}: go_backwards=True has no rnnkit equivalent")
    if layer.wrapper is not None and layer.wrapper.get("merge_mode", "concat") != "concat":
        mode = layer.wrapper.get("merge_mode")
        raise UserError(
            f"Keras layer {layer.name!r}: Bidirectional merge_mode={mode!r} has no rnnkit equivalent "
            "(rnnkit concatenates the two directions)"
        )


def _build(layer: KerasLayer) -> Any:
    """An rnnkit layer with the Keras layer's options and weights."""
    _check_options(layer)
    cfg, cls = layer.config, layer.class_name
    kernel = layer.weights[0][0]
    I, H = int(kernel.shape[0]), int(cfg.get("units") or layer.weights[0][1].shape[0])
    bias = bool(cfg.get("use_bias", True))
    common: dict[str, Any] = {
        "bias": bias,
        "batch_first": True,
        "bidirectional": layer.bidirectional,
        "input_dropout": float(cfg.get("dropout", 0.0)),
        "recurrent_dropout": float(cfg.get("recurrent_dropout", 0.0)),
        "stateful": bool(cfg.get("stateful", False)),
    }
    act = _act_from_keras(cfg.get("activation", "tanh"), "activation", layer)
    if cls == "SimpleRNN":
        module: Any = layers.RNN(I, H, nonlinearity=act, **common)
    else:
        rec_name = cfg.get(
            "recurrent_activation", cfg.get("inner_activation", "sigmoid")
        )  # Keras 1
        rec = _act_from_keras(rec_name, "recurrent_activation", layer)
        if cls == "LSTM":
            module = layers.LSTM(I, H, activation=act, recurrent_activation=rec, **common)
        else:
            after = bool(cfg.get("reset_after", layer.keras_major >= 3))  # absent: Keras < 2.1.3
            module = layers.GRU(
                I, H, reset_after=after, activation=act, recurrent_activation=rec, **common
            )
    state: dict[str, torch.Tensor] = {}
    for d, arrays in enumerate(layer.weights):
        suffix = "_l0" + ("_reverse" if d else "")
        k, r = arrays[0], arrays[1]
        if k.shape != (I, r.shape[1]) or r.shape[0] != H:
            raise UserError(
                f"Keras layer {layer.name!r}: weight shapes {k.shape}, {r.shape} do not match units={H}"
            )
        w = {"weight_ih": k.T, "weight_hh": r.T}
        if bias:
            b = arrays[2]
            b_ih, b_hh = (b[0], b[1]) if b.ndim == 2 else (b, np.zeros_like(b))
            w |= {"bias_ih": b_ih, "bias_hh": b_hh}
        if cls == "GRU":
            w = {n: _swap_rz(a, H) for n, a in w.items()}
        state |= {
            n + suffix: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
            for n, a in w.items()
        }
    want = {n for n, _ in module.named_parameters()}
    if set(state) != want:
        raise UserError(
            f"Keras layer {layer.name!r}: cannot map its weights ({len(state)} arrays) to {cls}"
        )
    with torch.no_grad():
        for n, p in module.named_parameters():
            p.copy_(state[n])
    return module


def _from_object(obj: Any) -> list[KerasLayer]:
    import keras

    major = int(keras.__version__.split(".")[0])
    items = list(obj.layers) if hasattr(obj, "layers") and not hasattr(obj, "cell") else [obj]
    out = []
    for item in items:
        cls = type(item).__name__
        if cls in ("InputLayer", "Dense", "Embedding", "Dropout", "Masking"):
            continue
        if cls == "Bidirectional":
            cfg = item.forward_layer.get_config()
            weights = [item.forward_layer.get_weights(), item.backward_layer.get_weights()]
            wrapper = item.get_config()
            out.append(
                KerasLayer(
                    item.name, type(item.forward_layer).__name__, cfg, weights, True, wrapper, major
                )
            )
        else:
            cfg = item.get_config() if cls in SUPPORTED else {}
            out.append(
                KerasLayer(
                    item.name,
                    cls,
                    cfg,
                    [item.get_weights()] if cls in SUPPORTED else [],
                    False,
                    None,
                    major,
                )
            )
    return out


def keras_layer_info(source: Any) -> list[KerasLayer]:
    """The recurrent layers of a Keras layer, model, ``.keras`` or ``.h5`` file, in order."""
    if isinstance(source, (str, Path)):
        return read_keras_file(source)
    return _from_object(source)


def from_keras(source: Any, *, layer: str | int | None = None) -> Any:
    """A Keras ``LSTM``/``GRU``/``SimpleRNN`` (or ``Bidirectional`` of one) as an rnnkit layer.

    Args:
        source: a Keras layer or model object, or the path of a ``.keras`` / legacy ``.h5`` file
            (read with ``h5py``; Keras itself is not needed).
        layer: which recurrent layer of a model, by name or position among its recurrent layers;
            required when there is more than one.

    Returns:
        ``rnnkit.LSTM``, ``GRU`` or ``RNN`` (``batch_first=True``) with the same weights and options.

    Raises:
        UserError: a corrupted file, a layer type or option rnnkit has no equivalent for (named).
    """
    found = keras_layer_info(source)
    if not found:
        raise UserError(f"{source}: has no recurrent layer")
    if layer is None:
        if len(found) > 1:
            names = ", ".join(repr(f.name) for f in found)
            raise UserError(
                f"{source}: has {len(found)} recurrent layers ({names}); choose one with layer="
            )
        return _build(found[0])
    if isinstance(layer, int):
        if not -len(found) <= layer < len(found):
            raise UserError(f"layer={layer}: the model has {len(found)} recurrent layers")
        return _build(found[layer])
    for f in found:
        if f.name == layer:
            return _build(f)
    raise UserError(
        f"layer={layer!r}: no recurrent layer of that name ({', '.join(f.name for f in found)})"
    )


def _keras_weights(spec: LayerSpec, l: int, d: int) -> list[np.ndarray]:
    w, H = spec.weights[l][d], spec.hidden_size
    if spec.family == "gru":
        w = {n: _swap_rz(a, H) for n, a in w.items()}
    out = [w["weight_ih"].T, w["weight_hh"].T]
    if "bias_ih" in w:
        if spec.family == "gru" and spec.options["reset_after"]:
            out.append(np.stack([w["bias_ih"], w["bias_hh"]]))
        else:
            out.append(w["bias_ih"] + w["bias_hh"])
    return [np.ascontiguousarray(a) for a in out]


def _keras_options(spec: LayerSpec, module: Any) -> dict[str, Any]:
    name = type(module).__name__
    if spec.family == "jordan":
        raise UserError(f"to_keras: {name} has no Keras equivalent (Keras has no Jordan network)")
    for option, why in [("peephole", "peephole connections"), ("coupled", "a coupled (CIFG) LSTM")]:
        if spec.options.get(option):
            raise UserError(f"to_keras: {name}({option}=True): Keras 3 has no {why}")
    if spec.options.get("proj_size"):
        raise UserError(
            f"to_keras: {name}(proj_size={spec.options['proj_size']}): Keras 3 LSTM has no projection"
        )
    if spec.init:
        raise UserError(f"to_keras: {name}(learn_init=True): Keras has no learned initial state")
    opts: dict[str, Any] = {}
    for option, act in spec.activations.items():
        if act not in _TO_KERAS_ACT:
            why = (
                "Keras 3's 'hard_sigmoid' has slope 1/6, not 0.2"
                if act == "hard_sigmoid_keras2"
                else "no Keras name"
            )
            raise UserError(
                f"to_keras: {name} {option}={act!r} cannot be expressed in Keras 3 ({why})"
            )
        opts[option] = _TO_KERAS_ACT[act]
    opts["use_bias"] = "bias_ih" in spec.weights[0][0]
    opts["dropout"] = float(getattr(module, "input_dropout", 0.0))
    opts["recurrent_dropout"] = float(getattr(module, "recurrent_dropout", 0.0))
    if spec.family == "gru":
        opts["reset_after"] = spec.options["reset_after"]
    return opts


def save_keras(
    keras_obj: Any, input_shape: tuple[Any, ...], path: str | Path, dtype: str = "float32"
) -> None:
    """Save a Keras layer (or the layers of a Sequential, flat) as a ``.keras`` model taking
    ``input_shape`` (batch excluded), written atomically."""
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        raise UserError(f"{path}: a Keras model file must end in .keras")
    inp = keras.Input(input_shape, dtype=dtype)
    y = inp
    for layer in keras_obj.layers if isinstance(keras_obj, keras.Sequential) else [keras_obj]:
        y = layer(y)  # flat, so that read_keras_file finds every layer at the top level
    model = keras.Model(inp, y)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"could not write {path}: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)


def to_keras(
    module: Any,
    path: str | Path | None = None,
    *,
    return_state: bool = True,
    return_sequences: bool = True,
    **layer_options: Any,
) -> Any:
    """An rnnkit ``LSTM``/``GRU``/``RNN`` as a built Keras 3 layer with the same numbers.

    One layer gives ``keras.layers.LSTM`` (``GRU``, ``SimpleRNN``; wrapped in ``Bidirectional``
    when bidirectional) with ``return_sequences=True`` and ``return_state``; several layers give a
    ``keras.Sequential`` of them (sequence output only). Inputs are batch-first, as in Keras.

    Args:
        module: the rnnkit layer.
        path: also save it as a ``.keras`` model file (input ``(batch, time, I)``).
        return_state: a single layer also returns its final states (as Keras orders them).
        return_sequences: for the last layer (earlier layers always return sequences).
        layer_options: more Keras arguments for every layer (``zero_output_for_mask=True`` ...).

    Raises:
        UserError: an option Keras 3 cannot express (peephole, coupled, proj_size, learn_init,
            Jordan, ``hard_sigmoid_keras2``), Keras missing, or a path that cannot be written.
    """
    try:
        import keras
    except ImportError as e:
        raise UserError("to_keras needs Keras 3: pip install 'rnnkit[keras]'") from e
    spec = describe(module)
    if spec.is_cell:
        raise UserError(f"to_keras: export the sequence layer, not {type(module).__name__}")
    opts = _keras_options(spec, module)
    cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[
        spec.family
    ]
    built = []
    for l in range(spec.num_layers):
        layer = cls(
            spec.hidden_size,
            return_sequences=return_sequences or l < spec.num_layers - 1,
            return_state=return_state and spec.num_layers == 1,
            **opts,
            **layer_options,
        )
        if spec.num_directions == 2:
            layer = keras.layers.Bidirectional(layer, merge_mode="concat")
        I = spec.weights[l][0]["weight_ih"].shape[1]
        layer.build((None, None, I))
        layer.set_weights(
            [a for d in range(spec.num_directions) for a in _keras_weights(spec, l, d)]
        )
        built.append(layer)
    out = (
        built[0]
        if len(built) == 1
        else keras.Sequential([keras.Input((None, spec.input_size)), *built])
    )
    if path is not None:
        save_keras(out, (None, spec.input_size), path)
    return out
