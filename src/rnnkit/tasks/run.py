"""One orchestration for every task: flags to config, resume checks, the run directory, training.

::

    cfg, stored = configure(spec, given, sources, out, resume)   # checked; nothing read or written
    result, lines = train_run(spec, cfg, out, stored=stored)     # read data, write run, train
    run = open_run(out)                                          # later: spec, config, model

What a resumed run checks, for every task: the run is of this task; every setting given again
that is ``fixed`` (data, layer, model, batch size, seed) equals the stored one, or it is refused
by name; the data's sha256 equals the stored one (format-1 sequence runs, which kept none: the
fitted vocabulary and labels equal the stored ones). Training settings that may change (time
budget, step limit, learning rate, ...) override the stored ones.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TextIO

import torch
from torch import nn

from .. import __version__, config
from ..config import ConfigError, from_json
from ..devices import describe_device, place, precision_dtype, resolve_device
from ..errors import UserError
from ..train.checkpoint import (
    CONFIG,
    check_weights_fit,
    find_weights,
    load_weights,
    read_config,
    start_run,
)
from ..train.checkpoint import write_config as _write_config
from ..train.distributed import Dist, init_distributed
from ..train.trainer import Trainer, TrainResult, seed_everything
from .format1 import migrate
from .layer import LayerConfig
from .spec import FORMAT_VERSION, SECTIONS, RunConfig, TaskSpec

__all__ = ["TrainedRun", "configure", "flag", "open_run", "read_run_config", "train_run"]

Given = Mapping[str, Mapping[str, Any]]  # section -> field -> value given on the command line


def flag(name: str) -> str:
    """The command-line flag of a config field: ``hidden_size`` -> ``--hidden-size``."""
    return "--" + name.replace("_", "-")


def _user_error(e: ConfigError, where: str | None = None) -> UserError:
    if where is not None:
        return UserError(f"{where}: {e}")
    return UserError(f"{flag(e.name)} {e.detail}")


def section_class(spec: TaskSpec, section: str) -> type:
    from ..train.trainer import TrainConfig

    return {"data": spec.Data, "layer": LayerConfig, "model": spec.Model, "train": TrainConfig}[
        section
    ]


def _build(cls: type, values: Mapping[str, Any]) -> Any:
    try:
        return cls(**values)
    except ConfigError as e:
        raise _user_error(e) from e


def read_run_config(run: str | Path, task: str | tuple[str, ...] | None = None) -> RunConfig:
    """``RUN/config.json`` as a :class:`RunConfig`, format 1 migrated on the way; ``task`` names
    the task(s) the caller handles.

    Raises:
        UserError: no run there, a run of another or an unknown task, or a config that is
            damaged or from a newer rnnkit (the file named).
    """
    from . import TASKS as tasks

    run = Path(run)
    raw = read_config(run)
    wanted = (task,) if isinstance(task, str) else task
    if wanted is not None and raw["task"] not in wanted:
        if len(wanted) == 1:
            raise UserError(f"{run}: is a {raw['task']!r} run, not a {wanted[0]!r} run")
        raise UserError(
            f"{run}: a {raw['task']!r} run; this command handles {', '.join(wanted)} runs"
        )
    where = str(run / CONFIG)
    if "format_version" not in raw:
        raw = migrate(raw, where)
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UserError(f"{where}: run format {version!r} is newer than this rnnkit reads "
                        f"({FORMAT_VERSION}); upgrade rnnkit")  # fmt: skip
    spec = tasks.get(raw["task"])
    if spec is None:
        raise UserError(f"{where}: a {raw['task']!r} run, which this rnnkit does not know")
    try:
        sections: dict[str, Any] = {
            s: from_json(section_class(spec, s), raw[s], f"{where} [{s}]") for s in SECTIONS
        }
        return RunConfig(
            task=spec.name, **sections, sources=list(raw["sources"]),
            fingerprint=raw["fingerprint"], info=dict(raw.get("info", {})),
            format_version=version, rnnkit_version=str(raw.get("rnnkit_version", "")),
        )  # fmt: skip
    except ConfigError as e:
        raise UserError(f"{where}: {e}") from e
    except (KeyError, TypeError) as e:
        raise UserError(f"{where}: not a complete rnnkit run config (missing {e})") from e


def configure(
    spec: TaskSpec, given: Given, sources: list[str], out: str | Path, resume: bool
) -> tuple[RunConfig, RunConfig | None]:
    """The run's config from the given settings: on a new run over the task's defaults, on a
    resumed one over the stored config (returned as the second value).

    Raises:
        UserError: a value out of range, or (resume) a fixed setting that differs from the
            run's, named by its flag.
    """
    if resume:
        if not Path(out).exists():
            raise UserError(f"{out}: no run to resume (the directory does not exist)")
        stored = read_run_config(out, spec.name)
        changes: dict[str, Any] = {}
        for section in SECTIONS:
            current = stored.section(section)
            updates = {}
            for f in fields(current):
                if f.name not in given.get(section, {}):
                    continue
                value, was = given[section][f.name], getattr(current, f.name)
                if f.metadata.get("fixed", True) and value != was:
                    raise UserError(
                        f"{flag(f.name)} {value}: {out} was trained with {flag(f.name)} {was}, "
                        "which a resumed run keeps (only the training limits and the learning "
                        "rate schedule may change)"
                    )
                updates[f.name] = value
            if updates:
                changes[section] = _build(type(current), {**dataclasses.asdict(current), **updates})
        cfg = dataclasses.replace(stored, **changes, format_version=FORMAT_VERSION,
                                  rnnkit_version=__version__)  # fmt: skip
        cfg.sources = list(sources) or list(stored.sources)
        return cfg, stored
    sections: dict[str, Any] = {
        s: _build(section_class(spec, s), {**spec.defaults.get(s, {}), **given.get(s, {})})
        for s in SECTIONS
    }
    cfg = RunConfig(task=spec.name, **sections, sources=list(sources))
    spec.adjust(given, cfg)
    return cfg, None


def defaults(spec: TaskSpec, section: str) -> dict[str, Any]:
    """A section's defaults for ``spec``: the config's own, overridden by the task's."""
    return {**config.defaults(section_class(spec, section)), **spec.defaults.get(section, {})}


def train_run(
    spec: TaskSpec,
    cfg: RunConfig,
    out: str | Path,
    *,
    stored: RunConfig | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
    say: Callable[[str], None] = lambda line: print(line, flush=True),
    device: str = "auto",
    precision: str = "fp32",
    dist_timeout: float = 300.0,
) -> tuple[TrainResult, list[str]]:
    """Read the data, write the run directory and train (a new run, or ``stored`` resumed).

    ``device`` and ``precision`` are this session's (``--device``, ``--precision``: not part of
    the run, which records them in ``info["trained_on"]``). Started by torchrun or ``--nproc``
    (``WORLD_SIZE`` > 1 in the environment), this process trains its part of each batch
    (:mod:`rnnkit.train.distributed`; ``dist_timeout``: seconds to wait for the others).

    Returns:
        how training ended, and the lines the task has to say about it (none on ranks > 0).
    """
    where = resolve_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    dtype = precision_dtype(precision, where)
    group = init_distributed(where, dist_timeout)
    try:
        return _train(spec, cfg, Path(out), stored, group, dtype, precision, progress, stream, say)
    finally:
        group.close()


def _train(
    spec: TaskSpec,
    cfg: RunConfig,
    out: Path,
    stored: RunConfig | None,
    group: Dist,
    dtype: torch.dtype | None,
    precision: str,
    progress: bool,
    stream: TextIO | None,
    say: Callable[[str], None],
) -> tuple[TrainResult, list[str]]:
    resume = stored is not None
    if not resume and out.exists():  # refuse a non-empty directory before reading any data
        group.on_main(lambda: start_run(out, spec.name, resume=False))
    prep = spec.prepare(cfg) if stored is None else spec.prepare_resumed(cfg, out)
    if stored is not None:
        _check_same_data(spec, cfg, stored, out, prep.artifacts)
    session = {"device": describe_device(group.device), "precision": precision,
               "processes": group.world}  # fmt: skip
    history = list(stored.info.get("trained_on", [])) if stored is not None else []
    cfg.info["trained_on"] = history if history[-1:] == [session] else [*history, session]

    def write_run() -> bool:
        has_checkpoint = start_run(out, spec.name, resume)
        _write_config(out, cfg.to_json())
        if not resume:
            spec.save_artifacts(out, prep.artifacts)
        return has_checkpoint

    has_checkpoint = bool(group.on_main(write_run))
    seed_everything(cfg.train.seed)
    model = place(spec.build_model(cfg, prep.artifacts), group.device)
    group.broadcast_model(model)
    n_params = sum(p.numel() for p in model.parameters())
    layer = cfg.layer
    on = describe_device(group.device) + (f" x{group.world} processes" if group.active else "")
    if group.main:
        say(f"{'resuming' if has_checkpoint else 'training'} a {layer.num_layers}x"
            f"{layer.hidden_size} {layer.cell} ({n_params / 1e6:.2f}M parameters) "
            f"{prep.describe}; on {on}; run in {out}")  # fmt: skip
    trainer = Trainer(model, prep.task, cfg.train, out, stream=stream, progress=progress,
                      precision=dtype, dist=group)  # fmt: skip
    result = trainer.run(resume=has_checkpoint)
    return result, (spec.finish(model, prep, out, result) if group.main else [])


def _check_same_data(
    spec: TaskSpec, cfg: RunConfig, stored: RunConfig, out: Path, fresh: Any
) -> None:
    where = ", ".join(cfg.sources)
    if stored.fingerprint is not None:
        if cfg.fingerprint != stored.fingerprint:
            raise UserError(f"{where}: not the data {out} was trained on (its checksum differs)")
        return
    differs = spec.same_artifacts(spec.load_artifacts(out, stored), fresh)
    if differs:
        raise UserError(f"{out}: the data's {differs} differ from the run's; the data changed "
                        "since it started")  # fmt: skip


@dataclass
class TrainedRun:
    """A run directory opened for use: its task, config, artifacts and model (best weights,
    eval mode)."""

    path: Path
    spec: TaskSpec
    config: RunConfig
    artifacts: Any
    model: nn.Module


def open_run(
    run: str | Path,
    task: str | tuple[str, ...] | None = None,
    device: str | torch.device | None = None,
) -> TrainedRun:
    """Open a trained run; ``task`` names the task(s) the caller handles; ``device`` (a
    ``--device`` name or a torch device; default the CPU) is where its model goes: weights are
    saved on the CPU, so a run trained anywhere opens anywhere.

    Raises:
        UserError: not a run, a run of another task, a damaged file, or no weights yet.
    """
    from . import TASKS

    run = Path(run)
    cfg = read_run_config(run, task)
    spec = TASKS[cfg.task]
    weights = find_weights(run)
    artifacts = spec.load_artifacts(run, cfg)
    check_weights_fit(weights, lambda: spec.build_model(cfg, artifacts))  # before allocating
    where = resolve_device(device) if isinstance(device, str) else device
    model = spec.build_model(cfg, artifacts)
    load_weights(weights, model)
    if where is not None:
        place(model, where)
    model.eval()
    return TrainedRun(run, spec, cfg, artifacts, model)
