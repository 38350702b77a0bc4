"""A plain torch.nn.LSTM character model, trained the way most scripts do: the baseline that
``rnnkit train text`` is measured against (docs/TEXT.md). Not part of the package.

Embedding -> torch.nn.LSTM -> Linear; the training text (the first 90 %) cut into BATCH parallel
streams, truncated BPTT over SEQ-LEN windows with the state carried (detached) between windows,
Adam at a constant learning rate, gradient-norm clipping, for a fixed time budget. Validation is
the last 10 %, scored as one contiguous stream at the end (and every --eval-every seconds as
BATCH parallel streams, for the log).

    python scripts/baseline_char_lstm.py ../shared/data/tinyshakespeare.txt --time-budget 300

With ``--interleave N`` it instead times N training steps of this model and N of rnnkit's
LanguageModel (same sizes, same batch, same optimizer) in alternation, so both see the same
machine load, and prints the median chars/s of each.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class CharLSTM(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor, state=None):  # x (T, B) -> logits (T, B, V)
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


@torch.no_grad()
def bits_per_char(model: CharLSTM, data: torch.Tensor, streams: int, seq_len: int) -> float:
    """Cross-entropy in bits over ``data`` cut into ``streams`` contiguous rows, state carried."""
    model.eval()
    L = (len(data) - 1) // streams
    x = data[: streams * L].view(streams, L).t()
    y = data[1 : streams * L + 1].view(streams, L).t()
    total, state = 0.0, None
    for t in range(0, L, seq_len):
        logits, state = model(x[t : t + seq_len], state)
        total += F.cross_entropy(
            logits.flatten(0, 1), y[t : t + seq_len].flatten(), reduction="sum"
        ).item()
    model.train()
    return total / (streams * L) / math.log(2)


def interleave(args: argparse.Namespace, vocab: int, xs: torch.Tensor, ys: torch.Tensor) -> None:
    """Median training throughput of the torch model and rnnkit's, stepped in alternation."""
    import rnnkit
    from rnnkit.models.language_model import LanguageModel

    torch.manual_seed(args.seed)
    plain = CharLSTM(vocab, args.embed, args.hidden, args.layers)
    ours = LanguageModel(vocab, rnnkit.LSTM(args.embed, args.hidden, args.layers), embed=args.embed)
    models = {"torch.nn.LSTM": plain, "rnnkit": ours}
    opts = {k: torch.optim.Adam(m.parameters(), lr=args.lr) for k, m in models.items()}
    states: dict[str, object] = dict.fromkeys(models)
    times: dict[str, list[float]] = {k: [] for k in models}
    B, T = args.batch, args.seq_len
    for i in range(args.interleave + 2):
        pos = (i * T) % (xs.shape[0] - T)
        for name, model in models.items():
            start = time.perf_counter()
            logits, state = model(xs[pos : pos + T], states[name])
            states[name] = tuple(s.detach() for s in state)
            loss = F.cross_entropy(logits.flatten(0, 1), ys[pos : pos + T].flatten())
            opts[name].zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opts[name].step()
            if i >= 2:  # the first steps set up oneDNN's primitives
                times[name].append(time.perf_counter() - start)
    for name, ts in times.items():
        med = sorted(ts)[len(ts) // 2]
        print(
            f"{name:14s} B={B} T={T}: median {1000 * med:.0f} ms/step, {B * T / med:,.0f} chars/s"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus")
    p.add_argument("--time-budget", type=float, default=300, help="seconds (0: no limit)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: no limit)")
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--eval-every", type=float, default=60.0, help="seconds")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results here")
    p.add_argument(
        "--interleave",
        type=int,
        default=0,
        metavar="N",
        help="time N steps of this model and of rnnkit's, alternating, then exit",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    text = Path(args.corpus).read_text(encoding="utf-8")
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    B, T = args.batch, args.seq_len
    L = (len(train) - 1) // B
    xs = train[: B * L].view(B, L).t()  # (L, B): B parallel streams
    ys = train[1 : B * L + 1].view(B, L).t()

    if args.interleave:
        interleave(args, len(chars), xs, ys)
        return
    model = CharLSTM(len(chars), args.embed, args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    start = time.perf_counter()
    next_eval, step, chars_seen, pos, state = args.eval_every, 0, 0, 0, None
    while (not args.time_budget or time.perf_counter() - start < args.time_budget) and (
        not args.max_steps or step < args.max_steps
    ):
        if pos + T > L:
            pos, state = 0, None
        logits, state = model(xs[pos : pos + T], state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.flatten(0, 1), ys[pos : pos + T].flatten())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        pos += T
        step += 1
        chars_seen += B * T
        elapsed = time.perf_counter() - start
        if elapsed >= next_eval:
            next_eval += args.eval_every
            bpc = bits_per_char(model, val, B, 256)
            print(
                f"step {step} {elapsed:.0f}s train {loss.item() / math.log(2):.3f} val {bpc:.3f} bits/char "
                f"{chars_seen / elapsed:.0f} chars/s",
                flush=True,
            )
    elapsed = time.perf_counter() - start
    bpc = bits_per_char(model, val, 1, 1024)
    result = {
        "steps": step,
        "chars": chars_seen,
        "seconds": elapsed,
        "chars_per_s": chars_seen / elapsed,
        "val_bits_per_char": bpc,
        "val_nats": bpc * math.log(2),
    }
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
