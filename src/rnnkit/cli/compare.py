"""``rnnkit compare --task adding --length 100 --cells rnn,lstm,gru --seeds 3``: cells side by side.

Every cell trains on the same built-in task with the same seeds, flags and budget; each run is a
full run directory under ``--out`` (``<cell>-seed<k>``). The table gives each cell's final score on
the task's fixed test set (mean, standard deviation and range over seeds), how many seeds solved
the task, and the training time; ``compare.png`` draws the validation curves (mean line, min-max
band) against the score of a memoryless baseline, and ``compare.json`` keeps every number.

This is the vanishing-gradient story of the classic texts, measured: on the adding problem
(Hochreiter & Schmidhuber 1997) a tanh Elman RNN stays at the baseline MSE of 0.167 at long
lengths, while gated cells learn to carry the two marked values across the gap.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
from pathlib import Path
from typing import Any

from ..config import ConfigError, defaults
from ..data.synthetic import SYNTHETIC, adding_baseline_mse, copy_baseline_xent
from ..devices import add_device_flag
from ..errors import UserError
from ..runs import load_json, read_jsonl, save_json
from ..tasks import CELLS, TASKS, DataConfig, HeadConfig, LayerConfig, RunConfig, train_run
from ..tasks.builtin_sets import BUILTINS
from ..tasks.run import flag
from ..train.trainer import TrainConfig
from .flags import add_config_flags, given

__all__ = ["register", "run"]

# task -> (the kind of training, the test metric, lower is better, threshold that counts as solved)
TASK_METRICS: dict[str, tuple[str, str, bool, float | None]] = {
    "adding": ("regress", "mse", True, 0.01),
    "copy": ("tag", "loss", True, None),
    "dinner": ("classify", "accuracy", False, 0.99),
    "digits-rows": ("classify", "accuracy", False, None),
    "digits-pixels": ("classify", "accuracy", False, None),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="train several cells on one built-in task and seeds; table and learning curves",
        description="Train each cell on the same built-in task with the same seeds; print a table "
        "(final test metric: mean, spread; time) and draw the learning curves.",
    )
    p.add_argument("--task", required=True, choices=list(TASK_METRICS), help="the built-in task")
    p.add_argument(
        "--length", type=int, default=None, metavar="T", help="synthetic tasks: sequence length"
    )
    p.add_argument(
        "--cells",
        default="rnn,lstm,gru",
        metavar="A,B",
        help=f"comma-separated cells among {', '.join(CELLS)} (default rnn,lstm,gru)",
    )
    p.add_argument(
        "--seeds", type=int, default=3, metavar="N", help="seeds per cell: 0..N-1 (default 3)"
    )
    p.add_argument(
        "--steps",
        dest="train.max_steps",
        type=int,
        default=None,
        metavar="N",
        help="training steps per run (= --max-steps)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="where the runs, compare.png and compare.json go (default compare-TASK[-T])",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--gradients", action="store_true",
                   help="also draw |dL/dh_t| against the distance from the loss, at initialisation "
                   "and after training (gradients.png; numbers in compare.json)")  # fmt: skip
    add_device_flag(p)
    layer = {**defaults(LayerConfig), **LAYER_DEFAULTS}
    add_config_flags(p, "recurrent layer", "layer", LayerConfig, layer, hidden={"cell"})
    train = {**defaults(TrainConfig), **TRAIN_DEFAULTS}
    add_config_flags(p, "training", "train", TrainConfig, train, hidden={"seed"})
    p.set_defaults(func=run)


LAYER_DEFAULTS = {"hidden_size": 128, "num_layers": 1}
TRAIN_DEFAULTS = {"max_steps": 2000, "eval_every": 100, "checkpoint_every": 0, "batch_size": 32}


def _configs(
    args: argparse.Namespace, cells: list[str]
) -> tuple[dict[str, LayerConfig], TrainConfig]:
    """Each cell's layer and the shared training, from the flags (checked before any training)."""
    g = given(args, ("layer", "train"))
    try:
        train = TrainConfig(**{**TRAIN_DEFAULTS, **g["train"]})
        layers = {}
        for cell in cells:
            values = {**LAYER_DEFAULTS, **g["layer"], "cell": cell}
            values["unit_forget_bias"] = (
                bool(values.get("unit_forget_bias")) and CELLS[cell].forget_bias
            )
            layers[cell] = LayerConfig(**values)
    except ConfigError as e:
        raise UserError(f"{flag(e.name)} {e.detail}") from e
    return layers, train


def _baseline(task: str, length: int | None) -> float | None:
    if task == "adding":
        return adding_baseline_mse()
    if task == "copy":
        return copy_baseline_xent(length or SYNTHETIC["copy"].default_length)
    return {"dinner": 1 / 3, "digits-rows": 0.1, "digits-pixels": 0.1}.get(task)


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def _solved(value: float, threshold: float, lower: bool) -> bool:
    return value < threshold if lower else value >= threshold


def _first_solved(
    rows: list[dict[str, Any]], key: str, threshold: float, lower: bool
) -> tuple[int | None, float | None]:
    """The step and training seconds of the first evaluation that reached ``threshold``."""
    for r in rows:
        if key in r and _solved(float(r[key]), threshold, lower):
            return int(r["step"]), float(r["elapsed"])
    return None, None


def _row(
    cell: str, runs: list[dict[str, Any]], metric: str, lower: bool, solved_at: float | None
) -> dict[str, Any]:
    """One cell's line of the table: test-metric statistics over seeds, time, seeds solved."""
    row = {"cell": cell, **_stats([r[metric] for r in runs]),
           "seconds": statistics.fmean(r["seconds"] for r in runs), "runs": runs}  # fmt: skip
    if solved_at is not None:
        row["solved"] = sum(_solved(r[metric], solved_at, lower) for r in runs)
        times = [r["solved_seconds"] for r in runs if r["solved_seconds"] is not None]
        row["median_seconds_to_solve"] = statistics.median(times) if times else None
    return row


def run(args: argparse.Namespace) -> int:
    kind, metric, lower, solved_at = TASK_METRICS[args.task]
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = [c for c in cells if c not in CELLS]
    if not cells or unknown:
        raise UserError(f"--cells: unknown cell {unknown[0]!r}; choose among {', '.join(CELLS)}" if unknown
                        else "--cells: give at least one cell")  # fmt: skip
    if args.seeds < 1:
        raise UserError(f"--seeds must be a positive integer, got {args.seeds}")
    if args.length is not None and (args.task not in SYNTHETIC or args.length < 2):
        raise UserError(
            f"--length is for the synthetic tasks ({', '.join(SYNTHETIC)}) and must be >= 2"
        )
    layers, cfg = _configs(args, cells)
    hidden = next(iter(layers.values())).hidden_size
    length = args.length or (
        SYNTHETIC[args.task].default_length if args.task in SYNTHETIC else None
    )
    out = Path(args.out or (f"compare-{args.task}" + (f"-T{length}" if length else "")))
    runs = [
        (cell, seed, out / f"{cell}-seed{seed}") for cell in cells for seed in range(args.seeds)
    ]
    for _, _, path in runs:
        if path.exists() and any(path.iterdir()):
            raise UserError(f"{path}: already exists; choose another --out")
    assert args.task in BUILTINS
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in cells}
    curves: dict[str, list[list[tuple[int, float]]]] = {c: [] for c in cells}
    for cell, seed, path in runs:
        run_cfg = RunConfig(
            task=kind, data=DataConfig(kind, length=length), layer=layers[cell],
            model=HeadConfig(), train=TrainConfig.from_dict({**cfg.to_dict(), "seed": seed}),
            sources=[args.task],
        )  # fmt: skip
        result, _ = train_run(TASKS[kind], run_cfg, path, progress=False, stream=io.StringIO(),
                              say=lambda _: None, device=args.device)  # fmt: skip
        summary = load_json(path / "summary.json")
        rows = read_jsonl(path / "metrics.jsonl")
        key = f"val_{metric}"
        curves[cell].append([(int(r["step"]), float(r[key])) for r in rows if key in r])
        record: dict[str, Any] = {"seed": seed, metric: float(summary["test"][metric]),
                                  "seconds": summary["seconds"], "steps": summary["steps"]}  # fmt: skip
        if solved_at is not None:
            record["solved_step"], record["solved_seconds"] = _first_solved(
                rows, key, solved_at, lower
            )
        results[cell].append(record)
        if not args.json:
            print(f"  {cell:<9} seed {seed}: test {metric} {record[metric]:.4g} after {summary['steps']} "
                  f"steps ({summary['seconds']:.0f} s)", flush=True)  # fmt: skip
        if result.interrupted:
            return 130
    baseline = _baseline(args.task, length)
    table = [_row(cell, results[cell], metric, lower, solved_at) for cell in cells]
    from ..viz.compare import plot_compare  # matplotlib loads only when it draws

    title = (
        f"{args.task}" + (f", T={length}" if length else "") + f", {args.seeds} seed(s), H={hidden}"
    )
    plot_compare(
        curves, out / "compare.png", metric, title=title, baseline=baseline, log_scale=lower
    )
    report = {"task": args.task, "length": length, "metric": metric, "lower_is_better": lower,
              "baseline": baseline, "solved_below" if lower else "solved_at": solved_at,
              "train": cfg.to_dict(), "batch": cfg.batch_size, "hidden": hidden,
              "cells": table}  # fmt: skip
    if args.gradients:
        from ..gradflow import compare_gradients

        report["gradients"] = compare_gradients(
            {c: [p for cc, _, p in runs if cc == c] for c in cells}, out / "gradients.png", title
        )
    save_json(out / "compare.json", report)
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    _print_table(table, metric, baseline, solved_at, args.seeds, out)
    if args.gradients:
        print(f"gradient flow: {out / 'gradients.png'}")
    return 0


def _print_table(
    table: list[dict[str, Any]],
    metric: str,
    baseline: float | None,
    solved_at: float | None,
    seeds: int,
    out: Path,
) -> None:
    head = f"{'cell':<10}{'test ' + metric:>12}{'± std':>9}{'min':>9}{'max':>9}{'time/run':>10}"
    if solved_at is not None:
        head += f"{'solved':>8}{'median time to solve':>22}"
    print(head)
    for row in table:
        line = (f"{row['cell']:<10}{row['mean']:>12.4g}{row['std']:>9.2g}{row['min']:>9.4g}"
                f"{row['max']:>9.4g}{row['seconds']:>9.0f}s")  # fmt: skip
        if solved_at is not None:
            t = row["median_seconds_to_solve"]
            line += f"{row['solved']:>6}/{seeds}{'-' if t is None else f'{t:.0f} s':>22}"
        print(line)
    if baseline is not None and not math.isnan(baseline):
        print(f"memoryless baseline: {metric} {baseline:.4g}")
    if solved_at is not None:
        rule = "below" if metric in ("mse", "loss") else "at least"
        print(f"solved: test {metric} {rule} {solved_at}; time to solve: training seconds until the "
              "first validation score that good")  # fmt: skip
    print(f"learning curves: {out / 'compare.png'}; all numbers: {out / 'compare.json'}")
