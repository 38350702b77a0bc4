"""Models that leave rnnkit: ONNX export, and Keras 3 weights in and out.

* :func:`to_onnx` — an rnnkit layer or cell module as an ONNX graph (``onnx`` package; checked
  against onnxruntime in the tests). Needs ``pip install rnnkit[onnx]``.
* :func:`from_keras` / :func:`to_keras` — Keras ``LSTM``, ``GRU``, ``SimpleRNN`` (and
  ``Bidirectional`` of them) to rnnkit and back; ``.keras`` and legacy ``.h5`` files are read with
  ``h5py`` alone. ``to_keras`` needs Keras 3 (``pip install rnnkit[keras]``).

Gate maps and what each format cannot express: docs/INTEROP.md. The optional packages are imported
only when a function needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["from_keras", "to_keras", "to_onnx"]


def to_onnx(module: Any, path: str | Path | None = None, **options: Any) -> Any:
    """A layer or cell module (:func:`rnnkit.interop.onnx_export.to_onnx`) or a task model —
    ``LanguageModel``, ``SequenceClassifier``/``Regressor``, ``SequenceTagger``
    (:func:`rnnkit.interop.onnx_models.model_to_onnx`) — as an ONNX model."""
    from ..models import LanguageModel, SequenceClassifier, SequenceTagger

    if isinstance(module, (LanguageModel, SequenceClassifier, SequenceTagger)):
        from .onnx_models import model_to_onnx

        return model_to_onnx(module, path, **options)
    from .onnx_export import to_onnx as _to_onnx

    return _to_onnx(module, path, **options)


def from_keras(source: Any, **options: Any) -> Any:
    """See :func:`rnnkit.interop.keras_io.from_keras`."""
    from .keras_io import from_keras as _from_keras

    return _from_keras(source, **options)


def to_keras(module: Any, path: str | Path | None = None, **options: Any) -> Any:
    """See :func:`rnnkit.interop.keras_io.to_keras`."""
    from .keras_io import to_keras as _to_keras

    return _to_keras(module, path, **options)
