"""Run directories: the config, the weights to use, and where a run may be written.

The layout of a run directory (what the trainer, the tasks and :mod:`.checkpoint` write)::

    RUN/
      config.json              {"format_version": 2, "task": ..., ...}: see rnnkit.tasks.spec
      model.safetensors        the weights to use: the best by validation loss (when evaluated)
      metrics.jsonl            one JSON object per log line or evaluation (see the trainer)
      loss.png                 the loss curve drawn from metrics.jsonl
      <task files>             vocab.json, labels.json, scaler.json, ... (the task's artifacts)
      checkpoint.json          which checkpoint directory is the latest complete one
      checkpoint-000500/       the training state after step 500 (see rnnkit.train.checkpoint)
      .lock                    held by the process training in the run (rnnkit.runs.RunLock)

Every file is written atomically (:mod:`rnnkit.runs`). Every ``.safetensors`` file written here
carries a SHA-256 of its tensors in its header metadata, so a corrupted file is refused by name
instead of loaded. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from ..errors import UserError
from ..runs import (
    LOCK,
    atomic_write,
    clear_leftovers,
    hold_run,
    load_json,
    save_json,
)

__all__ = [
    "CONFIG",
    "POINTER",
    "WEIGHTS",
    "LoadedRun",
    "check_weights_fit",
    "clear_stale",
    "find_weights",
    "has_checkpoint",
    "load_checked",
    "load_run",
    "load_weights",
    "read_config",
    "save_checked",
    "save_weights",
    "start_run",
    "weights_shapes",
    "write_config",
]

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
POINTER = "checkpoint.json"
_CHECKSUM_KEY = "rnnkit.sha256"


# ----- checked safetensors -----------------------------------------------------------------------


def _digest(tensors: Mapping[str, Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of ``tensors`` (in sorted name order)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checked(path: str | Path, tensors: Mapping[str, Tensor]) -> None:
    """Write ``tensors`` as safetensors, atomically, with their SHA-256 in the header metadata."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {_CHECKSUM_KEY: _digest(flat)}
    atomic_write(path, lambda tmp: save_file(flat, str(tmp), metadata=meta))


def load_checked(path: str | Path) -> dict[str, Tensor]:
    """Read a safetensors file written by :func:`save_checked` and verify its checksum.

    Raises:
        UserError: the file is missing, truncated, corrupted, or its tensors do not match the
            checksum in its header (files without a checksum are accepted as they are).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise UserError(
            f"{path}: not a readable safetensors file (truncated or corrupted?): {e}"
        ) from e
    want = meta.get(_CHECKSUM_KEY)
    if want is not None and _digest(tensors) != want:
        raise UserError(f"{path}: corrupted (its tensors do not match the checksum in its header)")
    return tensors


def save_weights(path: str | Path, model: nn.Module | Mapping[str, Tensor]) -> None:
    """Save a model's ``state_dict()`` (or a state dict) as checked safetensors, atomically."""
    state = model.state_dict() if isinstance(model, nn.Module) else model
    save_checked(path, state)


def load_weights(path: str | Path, model: nn.Module) -> None:
    """Load weights saved by :func:`save_weights` into ``model``, checking names and shapes.

    Raises:
        UserError: naming the file and the first missing, unexpected or mis-shaped tensor.
    """
    path = Path(path)
    weights = load_checked(path)
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    extra = sorted(set(weights) - set(own))
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has an unexpected tensor {extra[0]!r}"
        raise UserError(f"{path}: does not fit the model in config.json: it {what}")
    for name, t in own.items():
        if tuple(weights[name].shape) != tuple(t.shape):
            raise UserError(
                f"{path}: {name} has shape {tuple(weights[name].shape)}, the model in "
                f"config.json needs {tuple(t.shape)}"
            )
    model.load_state_dict(weights)


def weights_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """The names and shapes of a safetensors file's tensors, read from its header only.

    Raises:
        UserError: the file is missing or not a readable safetensors file.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise UserError(
            f"{path}: not a readable safetensors file (truncated or corrupted?): {e}"
        ) from e


def check_weights_fit(path: str | Path, build: Callable[[], nn.Module]) -> None:
    """Check, before allocating anything, that the model ``build()`` makes fits the weights file.

    The model is built on PyTorch's ``meta`` device (shapes without memory) and its
    ``state_dict`` compared with the file's header, so a ``config.json`` edited to a hidden size
    of 10**9 is refused by name instead of allocating terabytes. Call it before building the
    model for real.

    Raises:
        UserError: naming the file and the first missing, unexpected or mis-shaped tensor.
    """
    path = Path(path)
    have = weights_shapes(path)
    try:
        with torch.device("meta"):
            want = {k: tuple(v.shape) for k, v in build().state_dict().items()}
    except RuntimeError as e:  # e.g. "Storage size calculation overflowed"
        raise UserError(f"{path}: the model in config.json cannot be built ({e})") from e
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has an unexpected tensor {extra[0]!r}"
        raise UserError(f"{path}: does not fit the model in config.json: it {what}")
    for name, shape in want.items():
        if have[name] != shape:
            raise UserError(
                f"{path}: {name} has shape {have[name]}, the model in config.json needs {shape}"
            )


# ----- config and run directories ----------------------------------------------------------------


def write_config(run_dir: str | Path, config: Mapping[str, Any]) -> None:
    """Write ``RUN/config.json``; ``config`` must have a top-level ``"task"`` name."""
    if not isinstance(config.get("task"), str):
        raise ValueError("a run config needs a top-level 'task' name")
    save_json(Path(run_dir) / CONFIG, dict(config))


def read_config(run_dir: str | Path, task: str | None = None) -> dict[str, Any]:
    """Read ``RUN/config.json``, checking that it is a run (of ``task``, when given).

    Raises:
        UserError: the directory or its config is missing or unreadable, or it holds a run of
            another task.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise UserError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a run directory (it is a file)")
    if not (run_dir / CONFIG).is_file():
        raise UserError(f"{run_dir}: not a run directory (no {CONFIG})")
    config = load_json(run_dir / CONFIG)
    if not isinstance(config, dict) or not isinstance(config.get("task"), str):
        raise UserError(f'{run_dir / CONFIG}: not an rnnkit run config (no "task" field)')
    if task is not None and config["task"] != task:
        raise UserError(f"{run_dir}: is a {config['task']!r} run, not a {task!r} run")
    return config


def _partials(run_dir: Path) -> list[Path]:
    return [p for p in run_dir.glob(".checkpoint-*.partial") if p.is_dir()]


def clear_stale(run_dir: str | Path) -> list[Path]:
    """Remove what interrupted saves left in ``run_dir``: ``.checkpoint-*.partial`` directories
    and the temporary files of atomic writes. Call it only while holding the run's lock.
    Returns what was removed."""
    run_dir = Path(run_dir)
    removed = clear_leftovers(run_dir)
    for partial in _partials(run_dir):
        shutil.rmtree(partial, ignore_errors=True)
        removed.append(partial)
    return removed


def _is_empty(run_dir: Path) -> bool:
    return not any(p.name != LOCK for p in run_dir.iterdir())


def start_run(run_dir: str | Path, task: str, resume: bool) -> bool:
    """Get ``run_dir`` ready for training; returns True when there is a checkpoint to resume.

    A new run needs a missing or empty directory (it is created); ``resume`` needs a run of the
    same ``task``. Resuming a run that has no checkpoint yet starts it afresh.

    The directory is then locked for this process (:func:`rnnkit.runs.hold_run`) until
    :func:`rnnkit.runs.release_held_runs` (the CLI calls it when a command ends) or the process
    exits, and what interrupted saves left there is removed (:func:`clear_stale`).

    Raises:
        UserError: the directory holds something else, or a run of another task, or another
            process is training in it (the message names its PID).
    """
    run_dir = Path(run_dir)
    if resume:
        if not run_dir.exists():
            raise UserError(f"{run_dir}: no run to resume (the directory does not exist)")
        read_config(run_dir, task)
        lock = hold_run(run_dir)
        try:
            clear_stale(run_dir)
            read_config(run_dir, task)  # again, now that no one else writes
            return has_checkpoint(run_dir)
        except BaseException:
            lock.release()
            raise
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir}: exists and is a file; choose another --out")
    if run_dir.is_dir() and not _is_empty(run_dir):
        raise _not_empty(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{run_dir}: cannot create the run directory: {e.strerror or e}") from e
    lock = hold_run(run_dir)
    if not _is_empty(run_dir):  # another process got here first
        lock.release()
        raise _not_empty(run_dir)
    return False


def _not_empty(run_dir: Path) -> UserError:
    hint = "pass --resume to continue it" if (run_dir / CONFIG).exists() else "choose another --out"
    return UserError(f"{run_dir}: the directory is not empty; {hint}")


@dataclass
class LoadedRun:
    """A finished (or checkpointed) run as sampling and evaluation need it."""

    path: Path
    config: dict[str, Any]
    weights: dict[str, Tensor]
    weights_path: Path  # where ``weights`` came from (see :func:`find_weights`)


def load_run(run_dir: str | Path, task: str) -> LoadedRun:
    """Read ``config.json`` and ``model.safetensors`` of a run of ``task``.

    Raises:
        UserError: a missing directory or file, a corrupted or truncated file, or a run of
            another task; the message names the path.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir, task)
    source = find_weights(run_dir)
    return LoadedRun(run_dir, config, load_checked(source), source)


def _step_of(name: str) -> tuple[int, int]:
    """``checkpoint-000500-2`` -> (500, 2), for ordering checkpoint directories."""
    parts = name.split("-")[1:]
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 1
    except (IndexError, ValueError):
        return -1, 0


def find_weights(run_dir: str | Path, stream: TextIO | None = None) -> Path:
    """The weights file to load for a run: ``model.safetensors``, or, when training was killed
    before writing it, the latest complete checkpoint's best weights (its current ones before
    the first evaluation), with a one-line note on ``stream`` (default stderr).

    Use it as ``load_weights(find_weights(run), model)``.

    Raises:
        UserError: the run has neither ``model.safetensors`` nor a complete checkpoint.
    """
    run_dir = Path(run_dir)
    if (run_dir / WEIGHTS).is_file():
        return run_dir / WEIGHTS
    candidates = []
    try:
        pointed = _pointer(run_dir)
    except UserError:
        pointed = None
    if pointed is not None:
        candidates.append(run_dir / pointed)
    others = [p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name != pointed]
    candidates += sorted(others, key=lambda p: _step_of(p.name), reverse=True)
    for ckpt in candidates:
        for name in ("best.safetensors", "model.safetensors"):
            if (ckpt / name).is_file():
                what = "best weights so far" if name.startswith("best") else "weights"
                print(
                    f"rnnkit: note: {run_dir} has no {WEIGHTS} (training was stopped before "
                    f"writing it); using the {what} of {ckpt.name}",
                    file=stream if stream is not None else sys.stderr,
                    flush=True,
                )
                return ckpt / name
    raise UserError(f"{run_dir}: has no {WEIGHTS} yet (training has not saved any weights)")


def _pointer(run_dir: Path) -> str | None:
    if not (run_dir / POINTER).is_file():
        return None
    meta = load_json(run_dir / POINTER)
    if not isinstance(meta, dict) or not isinstance(meta.get("dir"), str):
        raise UserError(f'{run_dir / POINTER}: not a checkpoint pointer (no "dir" field)')
    name = str(meta["dir"])
    if _step_of(name)[0] < 0 or Path(name).name != name:
        raise UserError(f"{run_dir / POINTER}: {name!r} is not a checkpoint directory's name")
    return name


def has_checkpoint(run_dir: str | Path) -> bool:
    return (Path(run_dir) / POINTER).is_file()
