"""``rnnkit export RUN --format onnx|keras --out FILE``: a trained run out of rnnkit.

ONNX: text runs (the language model; ``--step`` for one symbol + state -> next-symbol logits +
state) and classify / regress / tag runs, checked against onnxruntime in the tests. Keras 3: text
runs whose layer Keras can express. What maps how, and what cannot: docs/INTEROP.md.
"""

from __future__ import annotations

import argparse

from ..interop.runs import FORMATS, export_run

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained run to ONNX or Keras",
        description="Export a trained run: its input (embedding or scaled features), recurrent "
        "stack and head, with the same numbers. See docs/INTEROP.md.",
    )
    p.add_argument("run", metavar="RUN", help="a run directory of 'rnnkit train'")
    p.add_argument("--format", required=True, choices=FORMATS, help="onnx or keras")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write (.onnx, .keras)")
    p.add_argument(
        "--step",
        action="store_true",
        help="text runs, ONNX: one symbol and the state in, next-symbol logits and state out",
    )
    p.add_argument(
        "--opset", type=int, default=None, metavar="N", help="ONNX opset, 14 to 22 (default 17)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(export_run(args.run, args.format, args.out, step=args.step, opset=args.opset))
    return 0
