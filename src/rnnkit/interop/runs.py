"""A trained run out to ONNX or Keras: what ``rnnkit export RUN`` does.

The run is opened the one way every command opens it (:func:`rnnkit.tasks.open_run`: config,
artifacts, best weights, eval mode). ONNX takes text runs (the language model whole, or one step
with ``step=True``) and classify / regress / tag runs (scalers folded in); the run's vocabulary and
label names go into the model's ``metadata_props`` (``rnnkit.vocab``, ``rnnkit.labels``) so a
deployment can map symbols without the run directory. Keras takes text runs whose layer Keras can
express: ``Embedding`` (an identity matrix for a one-hot run) -> recurrent layers -> ``Dense``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UserError

__all__ = ["FORMATS", "export_run"]

FORMATS = ("onnx", "keras")
SEQUENCE_TASKS = ("classify", "regress", "tag")


def _metadata(task: str, artifacts: Any) -> dict[str, str]:
    meta = {"rnnkit.task": task}
    vocab = getattr(artifacts, "vocab", None)
    if vocab is not None:
        meta["rnnkit.vocab"] = json.dumps(vocab.to_json())
    labels = getattr(artifacts, "labels", None)
    if labels is not None:
        meta["rnnkit.labels"] = json.dumps(labels.to_json())
    return meta


def keras_text_model(lm: Any, path: str | Path) -> Any:
    """A language model as a Keras 3 model saved at ``path`` (``.keras``): ids ``(B, T)`` ->
    logits ``(B, T, V)``; same numbers as ``lm`` (which reads ``(T, B)``)."""
    import keras
    import numpy as np

    from .keras_io import save_keras, to_keras

    rnn = to_keras(lm.rnn, return_state=False)  # refuses what Keras cannot express, by name
    V = lm.vocab_size
    table = lm.embed.weight.detach().float().numpy() if lm.embed is not None else np.eye(V)
    embed = keras.layers.Embedding(V, table.shape[1])
    embed.build((None, None))
    embed.set_weights([table.astype(np.float32)])
    head = keras.layers.Dense(V)
    head.build((None, None, lm.head.in_features))
    head.set_weights(
        [lm.head.weight.detach().float().numpy().T, lm.head.bias.detach().float().numpy()]
    )
    recurrent = rnn.layers if isinstance(rnn, keras.Sequential) else [rnn]
    stack = keras.Sequential([keras.Input((None,), dtype="int64"), embed, *recurrent, head])
    save_keras(stack, (None,), path, dtype="int64")
    return stack


def export_run(
    run: str | Path, fmt: str, out: str | Path, *, step: bool = False, opset: int | None = None
) -> str:
    """Export run ``run`` as ``fmt`` (``onnx`` | ``keras``) to ``out``; returns a line to print.

    Raises:
        UserError: not a run, a task or option the format cannot take (named), an unwritable path.
    """
    from ..tasks import open_run

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    opened = open_run(run)
    task = opened.config.task
    if fmt == "keras":
        if task != "text":
            raise UserError(
                f"--format keras: exports text runs only; {run} is a {task} run (use --format onnx)"
            )
        if step:
            raise UserError(
                "--step: a Keras text model is its own step (call it on one symbol with stateful layers); use --format onnx"
            )
        keras_text_model(opened.model, out)
        return f"wrote {out} (Keras 3: ids (batch, time) -> logits (batch, time, vocab))"
    from .onnx_export import DEFAULT_OPSET
    from .onnx_models import model_to_onnx

    if task != "text" and task not in SEQUENCE_TASKS:
        raise UserError(
            f"{run}: exporting a {task} run is not supported (text, {', '.join(SEQUENCE_TASKS)})"
        )
    if step and task != "text":
        raise UserError(f"--step: applies to text runs; {run} is a {task} run")
    scaler = opened.artifacts if task in SEQUENCE_TASKS else None
    model_to_onnx(
        opened.model,
        out,
        step=step,
        scaler=scaler,
        metadata=_metadata(task, opened.artifacts),
        opset=opset or DEFAULT_OPSET,
    )
    what = "one step: symbol + state -> logits + state" if step else f"the whole {task} model"
    return f"wrote {out} (ONNX, {what})"
