"""``rnnkit eval RUN DATA`` for classify, regress and tag runs.

Classification and tagging print accuracy, macro-F1 and per-class F1 and draw the confusion matrix
(PNG); regression prints MSE and MAE next to the MSE of predicting the training mean. DATA is read
as the run's training data was (a file, or the test split of the run's built-in set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from ..runs import check_writable
from ..tasks import RunConfig
from ..tasks.inputs import load_for_eval
from ..tasks.sequence import open_sequence_run

__all__ = ["add_arguments", "evaluate"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--unknown-label", default="error", choices=["error", "skip"],
                   help="classify/tag: a label never seen in training stops with an error, or "
                   "(skip) its row or token is left out and counted")  # fmt: skip
    p.add_argument(
        "--confusion",
        default=None,
        metavar="PNG",
        help="classify/tag: where to draw the confusion matrix (default RUN/eval_confusion.png)",
    )


def evaluate(args: argparse.Namespace, config: RunConfig) -> int:
    if args.confusion:
        check_writable(args.confusion, "--confusion")  # before any work
    run, task = open_sequence_run(args.run, args.device)
    kind = run.config.task
    loaded = load_for_eval(
        args.data, task.data_cfg, task.enc, labelled=True, policy=args.unknown_label
    )
    report = task.report(loaded.data, task.outputs(run.model, loaded.data))
    report["skipped"] = loaded.skipped
    if kind != "regress":
        from ..viz.confusion import plot_confusion  # matplotlib loads only when it draws

        assert task.enc.labels is not None
        png = Path(args.confusion) if args.confusion else run.path / "eval_confusion.png"
        if args.confusion or os.access(run.path, os.W_OK):
            plot_confusion(
                np.array(report["confusion"]), task.enc.labels.names, png, Path(args.data).name
            )
            report["confusion_png"] = str(png)
        else:  # a read-only run is scored all the same
            print(f"rnnkit: note: {run.path} is read-only; no confusion matrix drawn (pass "
                  "--confusion FILE.png to draw it elsewhere)", file=sys.stderr)  # fmt: skip
            report["confusion_png"] = None
    if args.json:
        print(
            json.dumps(
                {"run": str(args.run), "data": args.data, "task": kind, **report}, sort_keys=True
            )
        )
        return 0
    skipped = f"; {loaded.skipped} left out for an unseen label" if loaded.skipped else ""
    if kind == "regress":
        print(f"{args.data}: {report['count']} sequences{skipped}")
        print(f"  MSE {report['mse']:.5g}  MAE {report['mae']:.5g}  (predicting the training mean: "
              f"MSE {report['baseline_mse']:.5g})")  # fmt: skip
        return 0
    unit = "tokens" if kind == "tag" else "sequences"
    print(f"{args.data}: {report['count']} {unit}{skipped}")
    line = f"  accuracy {report['accuracy']:.2%}  macro-F1 {report['macro_f1']:.4f}  loss {report['loss']:.4f}"
    if kind == "tag":
        line += f"  whole sequences right {report['sequence_accuracy']:.1%}"
    if "entity_f1" in report:
        line += f"  entity F1 {report['entity_f1']:.4f}"
    print(line)
    width = max(len(n) for n in report["f1"])
    for name, f1 in report["f1"].items():
        print(f"    {name:<{width}}  F1 {'-' if f1 is None else f'{f1:.3f}'}")
    if report["confusion_png"]:
        print(f"  confusion matrix: {report['confusion_png']}")
    return 0
