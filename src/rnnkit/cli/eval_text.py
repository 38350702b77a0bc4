"""``rnnkit eval RUN FILE`` for a text run: bits per character (perplexity for words) on FILE.

FILE is read as one contiguous text (:meth:`~rnnkit.models.language_model.LanguageModel.score`).
Symbols outside the run's vocabulary are scored as ``<unk>`` and counted in the output.
"""

from __future__ import annotations

import argparse
import json
import math

import torch

from ..data.text import read_text_file
from ..errors import UserError
from ..models.language_model import LanguageModel
from ..tasks import RunConfig, open_run

__all__ = ["add_arguments", "evaluate"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--encoding", default="utf-8", help="text runs: FILE's encoding (default utf-8)"
    )


def evaluate(args: argparse.Namespace, config: RunConfig) -> int:
    run = open_run(args.run, "text", args.device)
    model, vocab = run.model, run.artifacts.vocab
    assert isinstance(model, LanguageModel)
    text = read_text_file(args.data, args.encoding)
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    if len(ids) < 2:
        raise UserError(f"{args.data}: too short to score (it needs at least 2 {vocab.level}s)")
    total, n = model.score(ids)
    nats = total / n
    unit = vocab.level
    unknown = int((ids == vocab.unk_index).sum())
    result = {
        "run": str(args.run),
        "file": str(args.data),
        "level": unit,
        "symbols": n,
        "unknown": unknown,
        "nats": nats,
        f"bits_per_{unit}": nats / math.log(2),
        "perplexity": math.exp(min(nats, 700)),
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    score = (
        f"{nats / math.log(2):.4f} bits/char"
        if unit == "char"
        else f"perplexity {math.exp(nats):.2f}"
    )
    note = f"; {unknown:,} {unit}s outside the vocabulary scored as <unk>" if unknown else ""
    print(f"{args.data}: {score} ({nats:.4f} nats/{unit}) over {n:,} {unit}s{note}")
    return 0
