"""A trained run out to ONNX or Keras: what ``rnnkit export RUN`` does.

The run is opened the one way every command opens it (:func:`rnnkit.tasks.open_run`: config,
artifacts, best weights, eval mode). ONNX takes text runs (the language model whole, or one step
with ``step=True``) and classify / regress / tag runs (scalers folded in); the run's vocabulary and
label names go into the model's ``metadata_props`` (``rnnkit.vocab``, ``rnnkit.labels``) so a
deployment can map symbols without the run directory. Keras takes text runs (``Embedding``, an
identity matrix for a one-hot run, -> recurrent layers -> ``Dense``) and token classify / regress /
tag runs (masked by padding id 0), where Keras can express the layer.
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


def keras_sequence_model(model: Any, enc: Any, path: str | Path) -> Any:
    """A classify / regress / tag model over token ids as a Keras 3 model saved at ``path``.

    ``Embedding(mask_zero=True)`` marks padding (id 0, which no real token has) and the recurrent
    layers take ``zero_output_for_mask=True``: masked steps keep the state and output 0, as
    rnnkit's lengths do, and Keras's backward direction skips the padding it meets first.
    Pooling ``last`` is the last layer's final output (both directions); ``mean`` is
    ``GlobalAveragePooling1D`` over the mask.
    """
    import keras

    from ..models import SequenceRegressor, SequenceTagger
    from ..models.classifier import pool_last, pool_mean
    from .keras_io import save_keras, to_keras

    emb = model.encoder.embedding
    if emb is None:
        raise UserError("--format keras: a run on numeric features cannot be exported exactly: "
                        "Keras masks padding by value, not by length; use --format onnx")  # fmt: skip
    pool = None if isinstance(model, SequenceTagger) else model.pool
    if pool not in (None, pool_last, pool_mean):
        raise UserError("--format keras: pooling 'max' has no masked Keras layer "
                        "(GlobalMaxPooling1D ignores the mask); use --format onnx")  # fmt: skip
    rnn = to_keras(
        model.encoder.layer,
        return_state=False,
        return_sequences=pool is not pool_last,
        zero_output_for_mask=True,
    )
    weight = emb.weight.detach().float().numpy()
    embed = keras.layers.Embedding(*weight.shape, mask_zero=True)
    embed.build((None, None))
    embed.set_weights([weight])
    head = keras.layers.Dense(model.head.out_features)
    head.build((None, model.head.in_features))
    head.set_weights(
        [model.head.weight.detach().float().numpy().T, model.head.bias.detach().float().numpy()]
    )
    recurrent = rnn.layers if isinstance(rnn, keras.Sequential) else [rnn]
    layers = [keras.Input((None,), dtype="int64"), embed, *recurrent]
    if pool is pool_mean:
        layers.append(keras.layers.GlobalAveragePooling1D())
    layers.append(head)
    if isinstance(model, SequenceRegressor):  # back to the target's units
        layers.append(keras.layers.Rescaling(float(enc.target_std), float(enc.target_mean)))
    stack = keras.Sequential(layers)
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
        if task not in ("text", *SEQUENCE_TASKS):
            raise UserError(
                f"--format keras: {run} is a {task} run; text, {', '.join(SEQUENCE_TASKS)} runs only"
            )
        if step:
            raise UserError("--step: the one-step graph is ONNX only; use --format onnx")
        if task == "text":
            keras_text_model(opened.model, out)
            return f"wrote {out} (Keras 3: ids (batch, time) -> logits (batch, time, vocab))"
        keras_sequence_model(opened.model, opened.artifacts, out)
        return f"wrote {out} (Keras 3: ids (batch, time), 0 = padding -> the {task} head)"
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
