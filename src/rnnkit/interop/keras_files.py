"""Reading Keras model files with ``h5py`` alone (no Keras, no TensorFlow).

Two formats:

* ``.keras`` (Keras 3 ``model.save``) — a zip of ``metadata.json`` (``keras_version``),
  ``config.json`` (the model's layers) and ``model.weights.h5``. In the h5 file a layer's variables
  sit at ``layers/<snake_case class name>[_k]/cell/vars/{0,1,2}`` (kernel, recurrent_kernel, bias),
  named by a per-class counter over ``model.layers`` — not by the layer's name; ``Bidirectional``
  has ``forward_layer/`` and ``backward_layer/`` under its group (Keras ``saving_lib``).
* legacy ``.h5`` (Keras 2, or Keras 3 ``model.save("x.h5")``) — root attributes ``keras_version``
  and ``model_config`` (JSON); group ``model_weights/<layer name>`` with attribute
  ``weight_names`` listing its datasets in order (forward then backward for ``Bidirectional``).

The file's Keras major version decides what ``"hard_sigmoid"`` means: slope 0.2 in Keras 2, 1/6 in
Keras 3 (keras PR #19477).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

__all__ = ["RECURRENT", "KerasLayer", "read_keras_file", "snake_case"]

SUPPORTED = ("LSTM", "GRU", "SimpleRNN")
# Keras layer types that are recurrent but have no rnnkit equivalent (named in the error).
RECURRENT: tuple[str, ...] = (*SUPPORTED, "Bidirectional", "RNN", "ConvLSTM1D", "ConvLSTM2D")
RECURRENT += ("ConvLSTM3D", "CuDNNLSTM", "CuDNNGRU", "StackedRNNCells", "PeepholeLSTMCell")


@dataclass
class KerasLayer:
    """One Keras layer as read from a file or object.

    Attributes:
        class_name: ``LSTM``, ``GRU``, ``SimpleRNN`` — the inner layer's class for ``Bidirectional``.
        config: the (inner) layer's config dict.
        weights: per direction, the arrays in ``get_weights()`` order (kernel, recurrent, bias).
        bidirectional: whether it was wrapped in ``Bidirectional`` (config of the wrapper in
            ``wrapper``).
        keras_major: 2 or 3 (what ``"hard_sigmoid"`` means).
    """

    name: str
    class_name: str
    config: dict[str, Any]
    weights: list[list[np.ndarray]]
    bidirectional: bool = False
    wrapper: dict[str, Any] | None = None
    keras_major: int = 3


def snake_case(name: str) -> str:
    """Keras's name for a class in saved files: ``SimpleRNN`` -> ``simple_rnn``.

    >>> [snake_case(n) for n in ["LSTM", "SimpleRNN", "InputLayer", "Bidirectional"]]
    ['lstm', 'simple_rnn', 'input_layer', 'bidirectional']
    """
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _major(version: Any, path: Path) -> int:
    text = version.decode() if isinstance(version, bytes) else str(version)
    m = re.match(r"\s*(\d+)", text)
    if m is None:
        raise UserError(f"{path}: cannot read its keras_version {text!r}")
    return int(m.group(1))


def _layer_entries(config: Any, path: Path) -> tuple[str, list[dict[str, Any]]]:
    try:
        kind = config["class_name"]
        inner = config["config"]
        layers = inner if isinstance(inner, list) else inner["layers"]  # a list in Keras < 2.2
        assert isinstance(layers, list)
    except (KeyError, TypeError, AssertionError) as e:
        raise UserError(
            f"{path}: the model config has no layer list (not a Keras model file?)"
        ) from e
    return kind, layers


def _entry_name(entry: dict[str, Any]) -> str:
    return str(entry.get("name") or entry.get("config", {}).get("name", "?"))


def _split(entry: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """(inner class name, inner config, wrapper config or None)."""
    cls, cfg = entry["class_name"], entry.get("config", {})
    if cls == "Bidirectional":
        inner = cfg.get("layer", {})
        return str(inner.get("class_name", "?")), inner.get("config", {}), cfg
    return str(cls), cfg, None


def _count(cfg: dict[str, Any]) -> int:
    return 3 if cfg.get("use_bias", True) else 2


def _dataset(h5: Any, key: str, path: Path) -> np.ndarray:
    try:
        return np.asarray(h5[key])
    except (KeyError, OSError, ValueError) as e:
        raise UserError(f"{path}: weights {key!r} are missing or unreadable") from e


def _read_zip(path: Path) -> list[KerasLayer]:
    import h5py

    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            meta = json.loads(z.read("metadata.json"))
            blob = z.read("model.weights.h5")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a readable .keras file ({e})") from e
    major = _major(meta.get("keras_version", "3"), path)
    kind, entries = _layer_entries(config, path)
    out: list[KerasLayer] = []
    seen: dict[str, int] = {}
    try:
        h5 = h5py.File(io.BytesIO(blob), "r")
    except OSError as e:
        raise UserError(f"{path}: model.weights.h5 is not a readable HDF5 file") from e
    with h5:
        for entry in entries:
            cls = entry.get("class_name", "?")
            if cls == "InputLayer" and kind == "Sequential":
                continue  # not in a Sequential's model.layers, so not counted
            snake = snake_case(cls)
            k = seen.get(snake, 0)
            seen[snake] = k + 1
            group = f"layers/{snake}" + (f"_{k}" if k else "")
            if cls not in RECURRENT:
                continue
            inner, cfg, wrapper = _split(entry)
            dirs = ["forward_layer/", "backward_layer/"] if wrapper is not None else [""]
            weights = [
                [_dataset(h5, f"{group}/{d}cell/vars/{i}", path) for i in range(_count(cfg))]
                if inner in SUPPORTED
                else []
                for d in dirs
            ]
            out.append(_keras_layer(entry, weights, major))
    return out


def _keras_layer(entry: dict[str, Any], weights: list[list[np.ndarray]], major: int) -> KerasLayer:
    """A recurrent layer's config entry and its arrays as a :class:`KerasLayer`."""
    inner, cfg, wrapper = _split(entry)
    cls = entry.get("class_name", "?")
    return KerasLayer(_entry_name(entry), inner if wrapper else cls, cfg, weights,
                      wrapper is not None, wrapper, major)  # fmt: skip


def _read_h5(path: Path) -> list[KerasLayer]:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise UserError(f"{path}: not a readable HDF5 file") from e
    with f:
        if "model_config" not in f.attrs:
            raise UserError(
                f"{path}: no model config (a weights-only file?); save the whole model with "
                "model.save(...) and read that"
            )
        major = _major(f.attrs.get("keras_version", "3"), path)
        try:
            raw = f.attrs["model_config"]
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: its model_config is not valid JSON") from e
        _, entries = _layer_entries(config, path)
        root = f.get("model_weights", f)
        out = []
        for entry in entries:
            cls = entry.get("class_name", "?")
            if cls not in RECURRENT:
                continue
            name = _entry_name(entry)
            inner, cfg, wrapper = _split(entry)
            weights: list[list[np.ndarray]] = []
            if inner in SUPPORTED:
                if name not in root:
                    raise UserError(f"{path}: no weights for layer {name!r}")
                names = _weight_names(root[name])
                n, D = _count(cfg), 2 if wrapper is not None else 1
                if len(names) != n * D:
                    raise UserError(
                        f"{path}: layer {name!r} has {len(names)} weights, expected {n * D}"
                    )
                arrays = [_dataset(root[name], w, path) for w in names]
                weights = [arrays[d * n : (d + 1) * n] for d in range(D)]
            out.append(_keras_layer(entry, weights, major))
    return out


def _weight_names(group: Any) -> list[str]:
    """``weight_names``, which Keras splits into ``weight_names0``, ``weight_names1``... when long."""
    attrs = group.attrs
    if "weight_names" in attrs:
        chunks = [attrs["weight_names"]]
    else:
        chunks = [
            attrs[f"weight_names{i}"] for i in range(len(attrs)) if f"weight_names{i}" in attrs
        ]
    return [n.decode() if isinstance(n, bytes) else str(n) for c in chunks for n in c]


def read_keras_file(path: str | Path) -> list[KerasLayer]:
    """The recurrent layers of a ``.keras`` or legacy ``.h5`` model file, in model order.

    Raises:
        UserError: a missing, corrupted or weights-only file (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    return _read_h5(path)
