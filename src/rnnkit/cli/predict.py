"""``rnnkit predict RUN INPUT [--output FILE]``: labels, probabilities or values for new data.

INPUT is read as the run's training data was; labels in it are optional (when present they are
checked and copied to the output as ``label``). Classification writes a CSV (or JSON Lines for a
``.jsonl`` output) with the predicted label, its probability and every class's probability;
regression the predicted value; tagging a CoNLL file, ``token<TAB>tag``, one token per line.
Without ``--output`` the result goes to standard output.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data.batching import IGNORE_INDEX
from ..devices import add_device_flag
from ..runs import atomic_write, check_writable
from ..tasks.base import SequenceTask
from ..tasks.inputs import Loaded, load_for_eval
from ..tasks.sequence import open_sequence_run

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict labels (and probabilities), values or tags for new data with a trained run",
        description="Predict with a classify, regress or tag run. INPUT is read as the training "
        "data was; labels in it are optional.",
    )
    p.add_argument("run", metavar="RUN", help="the run directory")
    p.add_argument(
        "input", metavar="INPUT", help="the data to predict (a file, or the run's built-in set)"
    )
    add_device_flag(p)
    p.add_argument(
        "--output",
        default=None,
        metavar="FILE",
        help="write here (.csv, .jsonl; tagging: CoNLL) instead of standard output",
    )
    p.add_argument(
        "--unknown-label",
        default="error",
        choices=["error", "skip"],
        help="a label in INPUT never seen in training: stop (error) or leave its row out",
    )
    p.set_defaults(func=run)


def _rows(task: SequenceTask, loaded: Loaded, outputs: np.ndarray) -> list[dict[str, Any]]:
    data, enc = loaded.data, task.enc
    rows: list[dict[str, Any]] = []
    for n, where in enumerate(data.names):
        row: dict[str, Any] = {"row": where}
        if enc.labels is None:
            row["prediction"] = float(outputs[n])
            if data.y is not None:
                row["label"] = float(data.y[n])
        else:
            k = int(outputs[n].argmax())
            row["prediction"] = enc.labels.names[k]
            row["probability"] = float(outputs[n, k])
            if data.y is not None:
                row["label"] = enc.labels.names[int(data.y[n])]
            row.update(
                {
                    f"p_{name}": float(p)
                    for name, p in zip(enc.labels.names, outputs[n], strict=True)
                }
            )
        rows.append(row)
    return rows


def _table(rows: list[dict[str, Any]], jsonl: bool) -> str:
    if jsonl:
        return "".join(json.dumps(r) + "\n" for r in rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def _conll(task: SequenceTask, loaded: Loaded, outputs: np.ndarray) -> str:
    assert task.enc.labels is not None
    names = task.enc.labels.names
    data, lines = loaded.data, []
    pred = outputs.argmax(-1)  # (N, T)
    for n in range(len(data)):
        for t in range(int(data.lengths[n])):
            token = loaded.tokens[n][t] if loaded.tokens is not None else str(t)
            fields = [token, names[int(pred[n, t])]]
            if data.y is not None and int(data.y[n, t]) != IGNORE_INDEX:
                fields.append(names[int(data.y[n, t])])
            lines.append("\t".join(fields))
        lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_writable(args.output)  # before any work
    model_run, task = open_sequence_run(args.run, args.device)
    loaded = load_for_eval(
        args.input, task.data_cfg, task.enc, labelled=False, policy=args.unknown_label
    )
    outputs = task.outputs(model_run.model, loaded.data)
    if task.kind == "tag":
        text = _conll(task, loaded, outputs)
    else:
        jsonl = args.output is not None and Path(args.output).suffix.lower() in (
            ".jsonl",
            ".ndjson",
            ".json",
        )
        text = _table(_rows(task, loaded, outputs), jsonl)
    if args.output is None:
        print(text, end="")
    else:

        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        atomic_write(args.output, write)
    return 0
