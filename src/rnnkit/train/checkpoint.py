"""Resumable training checkpoints, written whole or not at all.

A checkpoint is a directory in the run (:mod:`.rundir` describes the rest)::

    checkpoint-000500/       the training state after step 500:
      model.safetensors        current weights
      best.safetensors         best weights so far (absent before the first evaluation)
      optimizer.safetensors    optimizer tensors, flattened to "state.<param index>.<name>"
      optimizer.json           the rest of the optimizer's state_dict (param_groups, numbers)
      train_state.json         step, elapsed time, best validation loss, the task's JSON state,
                               Python's RNG state
      train_state.safetensors  torch's RNG state(s) and the task's tensors ("task.<key>")

It is written whole into a fresh ``.checkpoint-NNNNNN.partial`` directory before
``checkpoint.json`` is switched to it, so a crash or a full disk in the middle of a save leaves
the previous checkpoint intact and named.

The run-directory functions (``start_run``, ``read_config``, ``load_weights``, ``find_weights``,
...) live in :mod:`.rundir` and are importable from here as well.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from torch import Tensor, nn

from ..errors import UserError
from ..runs import (
    load_json,
    save_json,
    write_error_reason,
)
from .rundir import (
    CONFIG,
    POINTER,
    WEIGHTS,
    LoadedRun,
    _pointer,
    check_weights_fit,
    clear_stale,
    find_weights,
    has_checkpoint,
    load_checked,
    load_run,
    load_weights,
    read_config,
    save_checked,
    save_weights,
    start_run,
    weights_shapes,
    write_config,
)

__all__ = [
    "CONFIG",
    "POINTER",
    "WEIGHTS",
    "Checkpoint",
    "LoadedRun",
    "TrainState",
    "check_weights_fit",
    "clear_stale",
    "find_weights",
    "has_checkpoint",
    "load_checkpoint",
    "load_run",
    "load_weights",
    "read_config",
    "save_checkpoint",
    "save_weights",
    "start_run",
    "weights_shapes",
    "write_config",
]

# ----- training checkpoints ----------------------------------------------------------------------


@dataclass
class TrainState:
    """The trainer's counters, saved in ``train_state.json``.

    Attributes:
        step: optimizer steps taken.
        units: units trained on (e.g. characters), for throughput.
        elapsed: seconds of training so far, across resumes (the time budget counts these).
        best_val: lowest validation loss seen, or ``None`` before the first evaluation.
        best_step: the step of ``best_val``.
        best_metrics: all metrics of that evaluation.
        bad_evals: evaluations since the best one (early stopping counts these).
        last_eval: the step of the last evaluation (-1: none yet).
        window_loss, window_units: the unit-weighted loss sum and the units since the last
            ``train_loss`` line of ``metrics.jsonl``.
        stop_reason: why training stopped ("" while it has not).
    """

    step: int = 0
    units: int = 0
    elapsed: float = 0.0
    best_val: float | None = None
    best_step: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad_evals: int = 0
    last_eval: int = -1
    window_loss: float = 0.0
    window_units: int = 0
    stop_reason: str = ""


_STATE_TYPES: dict[str, tuple[type, ...]] = {
    "step": (int,),
    "units": (int,),
    "elapsed": (int, float),
    "best_val": (int, float, type(None)),
    "best_step": (int,),
    "best_metrics": (dict,),
    "bad_evals": (int,),
    "last_eval": (int,),
    "window_loss": (int, float),
    "window_units": (int,),
    "stop_reason": (str,),
}


def _train_state(saved: Any) -> TrainState:
    """A :class:`TrainState` from ``train_state.json``'s ``"train"``, its fields' types checked."""
    if not isinstance(saved, dict):
        raise TypeError(f'"train" holds {type(saved).__name__}, not an object')
    known = {f.name for f in fields(TrainState)}
    values = {k: v for k, v in saved.items() if k in known}
    for name, value in values.items():
        if not isinstance(value, _STATE_TYPES[name]) or isinstance(value, bool):
            raise TypeError(f"{name} is {value!r}")
    return TrainState(**values)


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` restores besides the model and optimizer."""

    state: TrainState
    task_state: dict[str, Any]
    best_weights: dict[str, Tensor] | None
    path: Path


def _flatten_optimizer(sd: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer ``state_dict`` into tensors (for safetensors) and JSON."""
    tensors: dict[str, Tensor] = {}
    state_json: dict[str, dict[str, Any]] = {}
    for index, entry in sd["state"].items():
        for name, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"state.{index}.{name}"] = value
            else:
                state_json.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "state": state_json}


def _unflatten_optimizer(tensors: Mapping[str, Tensor], meta: Mapping[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, entry in meta.get("state", {}).items():
        state.setdefault(int(index), {}).update(entry)
    groups = [  # JSON turned tuples (Adam's betas) into lists; "params" stays a list
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()}
        for g in meta["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def _rng_tensors() -> dict[str, Tensor]:
    out = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = s
    np_state: Any = np.random.get_state()  # legacy global generator: ("MT19937", keys, pos, ...)
    out["rng.numpy_keys"] = torch.from_numpy(np.asarray(np_state[1], dtype=np.int64))
    return out


def _rng_json() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    np_state: Any = np.random.get_state()
    _, _, pos, has_gauss, cached = np_state
    return {
        "python": [version, list(internal), gauss],
        "numpy": [int(pos), int(has_gauss), float(cached)],
    }


def _set_rng(tensors: Mapping[str, Tensor], meta: Mapping[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        cuda = [
            tensors[f"rng.cuda.{i}"]
            for i in range(torch.cuda.device_count())
            if f"rng.cuda.{i}" in tensors
        ]
        if cuda:
            torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    if "rng.numpy_keys" in tensors:
        pos, has_gauss, cached = meta["numpy"]
        keys = tensors["rng.numpy_keys"].numpy().astype(np.uint32)
        np.random.set_state(("MT19937", keys, pos, has_gauss, cached))


def _split_task_state(task_state: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors = {f"task.{k}": v for k, v in task_state.items() if isinstance(v, Tensor)}
    plain = {k: v for k, v in task_state.items() if not isinstance(v, Tensor)}
    try:
        json.dumps(plain)
    except TypeError as e:
        raise TypeError(f"a task's state_dict() must hold Tensors or JSON values: {e}") from e
    return tensors, plain


def save_checkpoint(
    run_dir: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    task_state: Mapping[str, Any],
    best_weights: Mapping[str, Tensor] | None,
) -> Path:
    """Write a complete checkpoint directory for ``state.step``, then point ``checkpoint.json`` at it.

    The RNG states saved are those at the time of the call. Older checkpoint directories are
    removed once the new one is in place. Returns the new directory.

    Raises:
        UserError: writing failed (e.g. the disk is full); the previous checkpoint is intact and
            still the one ``--resume`` uses.
    """
    run_dir = Path(run_dir)
    name = f"checkpoint-{state.step:06d}"
    n = 1
    while (run_dir / name).exists():  # e.g. the final save at the step of the last periodic one
        n += 1
        name = f"checkpoint-{state.step:06d}-{n}"
    tmp = run_dir / f".{name}.partial"
    previous = _pointer(run_dir)
    task_tensors, task_plain = _split_task_state(task_state)
    opt_tensors, opt_json = _flatten_optimizer(optimizer.state_dict())
    try:
        if tmp.exists():  # left by a save that was killed (only the lock's holder saves here)
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        save_weights(tmp / "model.safetensors", model)
        if best_weights is not None:
            save_weights(tmp / "best.safetensors", best_weights)
        save_checked(tmp / "optimizer.safetensors", opt_tensors)
        save_json(tmp / "optimizer.json", opt_json)
        save_checked(tmp / "train_state.safetensors", {**_rng_tensors(), **task_tensors})
        save_json(
            tmp / "train_state.json",
            {"train": asdict(state), "task": task_plain, "rng": _rng_json()},
        )
        tmp.rename(run_dir / name)
        save_json(run_dir / POINTER, {"dir": name, "step": state.step})
    except (UserError, OSError, SafetensorError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = f"the previous checkpoint ({previous}) is intact" if previous else "none was kept"
        cause = e.__cause__ if isinstance(e, UserError) else e
        reason = (
            write_error_reason(cause) if isinstance(cause, (OSError, SafetensorError)) else str(e)
        )
        raise UserError(
            f"could not save the checkpoint of step {state.step} in {run_dir}: {reason}; {kept}"
        ) from e
    for old in run_dir.glob("checkpoint-*"):
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return run_dir / name


def load_checkpoint(
    run_dir: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> Checkpoint:
    """Restore the latest checkpoint into ``model`` and ``optimizer`` and set the RNG states.

    Raises:
        UserError: a missing, truncated or corrupted checkpoint file, or weights that do not fit
            the model; the message names the file.
    """
    run_dir = Path(run_dir)
    name = _pointer(run_dir)
    if name is None:
        raise UserError(f"{run_dir}: has no checkpoint to resume")
    ckpt = run_dir / name
    if not ckpt.is_dir():
        raise UserError(f"{run_dir / POINTER}: points at {name}, which is missing")
    meta = load_json(ckpt / "train_state.json")
    tensors = load_checked(ckpt / "train_state.safetensors")
    opt_tensors = load_checked(ckpt / "optimizer.safetensors")
    opt_json = load_json(ckpt / "optimizer.json")
    best = load_checked(ckpt / "best.safetensors") if (ckpt / "best.safetensors").exists() else None
    load_weights(ckpt / "model.safetensors", model)
    try:
        for what, value in (("train_state.json", meta), ("optimizer.json", opt_json)):
            if not isinstance(value, dict):
                raise TypeError(f"{what} holds {type(value).__name__}, not an object")
        state = _train_state(meta["train"])
        optimizer.load_state_dict(_unflatten_optimizer(opt_tensors, opt_json))
        _set_rng(tensors, meta["rng"])
        task_state: dict[str, Any] = dict(meta.get("task", {}))
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as e:
        raise UserError(
            f"{ckpt}: the checkpoint is incomplete or does not fit this run ({e})"
        ) from e
    task_state.update({k[len("task.") :]: v for k, v in tensors.items() if k.startswith("task.")})
    return Checkpoint(state, task_state, best, ckpt)
