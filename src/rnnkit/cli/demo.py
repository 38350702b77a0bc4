"""``rnnkit demo``: the main job on the built-in corpus — learn a text for two minutes, then write.

A 2-layer LSTM reads the source of some Python standard-library modules (every Python carries
it: :mod:`rnnkit.data.builtin`) for about two minutes, then writes a sample that shows what it
learned: indentation, ``def`` and ``self.``, docstrings in English. Ctrl-C stops training early
and still writes.

``rnnkit demo --classic`` runs the classic toy examples instead (a few seconds): the dinner
cycle and "Doug saw Jane.", each with an Elman RNN and an LSTM.
"""

from __future__ import annotations

import argparse
import random
import tempfile

from .. import LSTM, RNN
from ..errors import UserError
from ..toys import (
    DINNERS,
    SENTENCES,
    WORDS,
    dinner_stream,
    generate,
    sentence_stream,
    train_next_symbol,
)

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="learn Python's own source for ~2 minutes, then write some (--classic: toy examples)",
    )
    p.add_argument(
        "--classic",
        action="store_true",
        help="run the classic toy examples instead (a few seconds)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--time-budget",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="seconds of training (default 120)",
    )
    p.add_argument(
        "--length", type=int, default=800, metavar="N", help="characters to write (default 800)"
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="RUN",
        help="keep the run in this directory (default: a temporary one, removed)",
    )
    p.add_argument(
        "--hidden",
        type=int,
        default=None,
        metavar="N",
        help="hidden units (default 256; 8 with --classic)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name, value, ok in [("--hidden", args.hidden, args.hidden is None or 1 <= args.hidden <= 4096),
                            ("--time-budget", args.time_budget, args.time_budget > 0),
                            ("--length", args.length, args.length >= 0)]:  # fmt: skip
        if not ok:
            raise UserError(f"{name} {value} is out of range")
    if args.classic:
        return run_classic(args.seed, args.hidden or 8)
    if args.out is not None:
        return _train_and_write(args, args.out)
    with tempfile.TemporaryDirectory(prefix="rnnkit-demo-") as tmp:
        return _train_and_write(args, f"{tmp}/run")


def _train_and_write(args: argparse.Namespace, out: str) -> int:
    from . import build_parser  # the demo is `rnnkit train text` + `rnnkit sample`

    print(
        "rnnkit demo: an LSTM learns to write Python by reading the standard library's own "
        f"source for {args.time_budget:g} seconds (Ctrl-C stops it early and still writes).",
        flush=True,
    )
    train = [
        "train",
        "text",
        "--out",
        out,
        "--time-budget",
        str(args.time_budget),
        "--seed",
        str(args.seed),
    ]
    if args.hidden:
        train += ["--hidden-size", str(args.hidden)]
    parser = build_parser()
    targs = parser.parse_args(train)
    code = int(targs.func(targs))
    if code not in (0, 130):
        return code
    # Below ~0.8 an undertrained model gets stuck in runs of indentation spaces; 0.9 with a
    # nucleus of 0.95 writes recognisable Python after a couple of minutes.
    print(f"\n--- what it writes (temperature 0.9, top-p 0.95, seed {args.seed}) ---", flush=True)
    sample = ["sample", out, "--length", str(args.length), "--temperature", "0.9"]
    sample += ["--top-p", "0.95", "--seed", str(args.seed), "--prime", "def "]
    sargs = parser.parse_args(sample)
    sargs.func(sargs)
    if args.out is not None:
        print(f"--- the run is in {out}: rnnkit sample {out} --prime 'class '", flush=True)
    return 0


def run_classic(seed: int, hidden: int) -> int:
    """The classic toy examples, each with an Elman RNN and an LSTM (a few seconds)."""
    H = hidden
    cells = {
        "Elman RNN": lambda v: RNN(v, H),
        "LSTM": lambda v: LSTM(v, H),
    }
    print("== Dinner cycle: pizza -> sushi -> waffles -> pizza ...")
    for name, make in cells.items():
        t = train_next_symbol(make, H, dinner_stream(200), len(DINNERS), steps=150, seed=seed)
        week = [DINNERS[i] for i in generate(t.net, [0], 6)]
        print(f"  {name:9s} loss {t.final_loss:.3f}/step; after pizza it cooks: {', '.join(week)}")

    print('== Sentences: "Doug saw Jane." "Jane saw Spot." "Spot saw Doug."')
    stream = sentence_stream(300, random.Random(seed))
    for name, make in cells.items():
        t = train_next_symbol(make, H, stream, len(WORDS), steps=300, seed=seed)
        words = [WORDS[i] for i in generate(t.net, [WORDS.index(".")], 40, greedy=False, seed=seed)]
        sentences = [s.split() for s in " ".join(words).split(".")[:-1]]  # word lists, "." dropped
        written = [" ".join(s) + "." for s in sentences]
        bad = sorted(
            {w for s, w in zip(sentences, written, strict=True) if [*s, "."] not in SENTENCES}
        )
        print(f"  {name:9s} loss {t.final_loss:.3f}/word; writes: {' '.join(written[:8])}")
        if bad:
            print(f"  {'':9s} mistakes: {', '.join(bad)}")
        else:
            print(f"  {'':9s} every sentence it wrote is one of the three it read")
    return 0
