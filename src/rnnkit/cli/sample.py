"""``rnnkit sample RUN``: write text with a trained language model, streamed as it is written.

The prime is read once; every further symbol costs one step of the recurrent layer. Sampling is
temperature, then top-k, then top-p (:mod:`rnnkit.sampling`), from a seeded generator: the same
seed writes the same text. ``<unk>`` is never written.
"""

from __future__ import annotations

import argparse
import sys

import torch

from ..data.vocab import tokenize
from ..devices import add_device_flag
from ..errors import UserError
from ..models.language_model import LanguageModel
from ..sampling import Sampler
from ..tasks import open_run

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="write text with a trained language model")
    p.add_argument("run", metavar="RUN", help="a run directory of 'rnnkit train text'")
    p.add_argument(
        "--prime",
        default=None,
        metavar="TEXT",
        help="text to start from (default: a line break, or the commonest symbol)",
    )
    p.add_argument(
        "--length", type=int, default=500, metavar="N", help="symbols to write (default 500)"
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        metavar="X",
        help="softmax temperature; 0 = always the likeliest symbol (default 0.8)",
    )
    p.add_argument(
        "--top-k",
        type=int,
        default=0,
        metavar="K",
        help="sample among the K likeliest symbols only (default 0: off)",
    )
    p.add_argument(
        "--top-p",
        type=float,
        default=1.0,
        metavar="P",
        help="sample among the likeliest symbols holding probability P (default 1: off)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    add_device_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.length < 0:
        raise UserError(f"--length must be 0 or more, got {args.length}")
    run = open_run(args.run, "text", args.device)
    model, vocab = run.model, run.artifacts.vocab
    assert isinstance(model, LanguageModel)
    try:
        sampler = Sampler(
            args.temperature, args.top_k, args.top_p, args.seed, banned=[vocab.unk_index]
        )
    except ValueError as e:
        raise UserError(f"--{str(e).replace('_', '-', 1)}") from e
    prime_text = run.config.info.get("prime", "\n") if args.prime is None else args.prime
    tokens = tokenize(prime_text, vocab.level)
    if not tokens:
        raise UserError(f"--prime {prime_text!r} has no {vocab.level}s to start from")
    unknown = vocab.unknown(prime_text)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise UserError(
            f"--prime: {shown} {'is' if len(unknown) == 1 else 'are'} not in the vocabulary of "
            f"{args.run} ({len(vocab)} {vocab.level} symbols)"
        )
    prime = vocab.encode_tokens(tokens)
    out = sys.stdout
    out.write(prime_text if args.prime is not None or prime_text != "\n" else "")
    out.flush()
    previous: int | None = prime[-1]
    # Generation is one tiny step after another: threads add only synchronisation (and stall
    # badly on a busy machine), so one thread is fastest.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for index in model.generate(prime, args.length, sampler):
            out.write(vocab.piece(previous, index))
            out.flush()
            previous = index
    finally:
        torch.set_num_threads(threads)
    out.write("\n")
    out.flush()
    return 0
