"""``rnnkit demo``: the classic toy examples, each with an Elman RNN and an LSTM."""

from __future__ import annotations

import argparse
import random

from .. import LSTM, RNN
from ..toys import DINNERS, SENTENCES, WORDS, dinner_stream, generate, sentence_stream, train_next_symbol


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run the classic toy examples (a few seconds)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--hidden", type=int, default=8, help="hidden units per network (default 8)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    H = args.hidden
    cells = {
        "Elman RNN": lambda v: RNN(v, H),
        "LSTM": lambda v: LSTM(v, H),
    }
    print("== Dinner cycle: pizza -> sushi -> waffles -> pizza ...")
    for name, make in cells.items():
        t = train_next_symbol(make, H, dinner_stream(200), len(DINNERS), steps=150, seed=args.seed)
        week = [DINNERS[i] for i in generate(t.net, [0], 6)]
        print(f"  {name:9s} loss {t.final_loss:.3f}/step; after pizza it cooks: {', '.join(week)}")

    print('== Sentences: "Doug saw Jane." "Jane saw Spot." "Spot saw Doug."')
    stream = sentence_stream(300, random.Random(args.seed))
    for name, make in cells.items():
        t = train_next_symbol(make, H, stream, len(WORDS), steps=300, seed=args.seed)
        words = [WORDS[i] for i in generate(t.net, [WORDS.index(".")], 40, greedy=False, seed=args.seed)]
        sentences = [s.split() for s in " ".join(words).split(".")[:-1]]  # word lists, "." dropped
        written = [" ".join(s) + "." for s in sentences]
        bad = sorted({w for s, w in zip(sentences, written, strict=True) if s + ["."] not in SENTENCES})
        print(f"  {name:9s} loss {t.final_loss:.3f}/word; writes: {' '.join(written[:8])}")
        if bad:
            print(f"  {'':9s} mistakes: {', '.join(bad)}")
        else:
            print(f"  {'':9s} every sentence it wrote is one of the three it read")
    return 0
