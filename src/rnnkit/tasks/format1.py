"""Reading runs written before the one task path (run format 1, rnnkit 0.1).

Format 1 kept two layouts: text runs (``config["model"]["layer"]`` with ``hidden`` and ``layers``,
``config["batch"]``, ``config["seq_len"]``, the corpus sha256 under ``"data"``) and sequence runs
(``config["layer"]``, ``config["head"]``, ``config["data_path"]``, no data fingerprint; a
``vocab.json`` that is a bare list of tokens). :func:`migrate` turns either into format 2's
layout (:class:`~rnnkit.tasks.spec.RunConfig`) so that such runs sample, score, predict and resume
with the same numbers. Two meanings changed and are translated here: a sequence run's
``max_vocab`` now counts ``<pad>`` and ``<unk>`` (so it grows by 2), and its word level is
``word-v1`` (format 1 split words as ``\\w+`` or one other mark).
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError

__all__ = ["migrate"]


def _layer(spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    out["hidden_size"] = out.pop("hidden")
    out["num_layers"] = out.pop("layers")
    return out


def _text(c: dict[str, Any]) -> dict[str, Any]:
    data, model = c["data"], c["model"]
    return {
        "task": "text",
        "rnnkit_version": c.get("rnnkit_version", "0.1.0"),
        "sources": list(data["corpus"]),
        "fingerprint": data["sha256"],
        "data": {
            "level": data["level"],
            "seq_len": c["seq_len"],
            "val_fraction": data["val_fraction"],
            "max_vocab": data["max_vocab"],
            "encoding": data["encoding"],
        },
        "layer": _layer(model["layer"]),
        "model": {"embedding": model["embed"]},
        "train": {**c["train"], "batch_size": c["batch"]},
        "info": {
            "source": data["source"],
            "symbols": data["symbols"],
            "vocab_size": model["vocab_size"],
            "prime": c["sample"]["prime"],
        },
    }


def _sequence(c: dict[str, Any]) -> dict[str, Any]:
    data = dict(c["data"])
    if data.get("level") == "word":
        data["level"] = "word-v1"
    data["max_vocab"] = data["max_vocab"] + 2 if data.get("max_vocab") else 0
    if not data.get("max_length"):
        data["max_length"] = None  # format 1 read 0 as "no limit"
    builtin = data.get("builtin")
    return {
        "task": c["task"],
        "rnnkit_version": "0.1.0",
        "sources": [builtin if builtin else c["data_path"]],
        "fingerprint": None,
        "data": data,
        "layer": _layer(c["layer"]),
        "model": {**c["head"], "class_weights": c.get("class_weights", "none")},
        "train": {**c["train"], "batch_size": c["batch"]},
        "info": {},
    }


def migrate(config: dict[str, Any], source: str = "config.json") -> dict[str, Any]:
    """A format-1 ``config.json`` in format 2's layout (``format_version`` 1 kept as read).

    Raises:
        UserError: a config that is neither layout (the missing key named).
    """
    try:
        out = _text(config) if config["task"] == "text" else _sequence(config)
    except (KeyError, TypeError) as e:
        raise UserError(f"{source}: not a complete rnnkit run config (missing {e})") from e
    out["format_version"] = 1
    return out
