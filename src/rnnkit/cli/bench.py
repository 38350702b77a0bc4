"""``rnnkit bench``: every variant against ``torch.nn.LSTM`` and the naive loop, side by side."""

from __future__ import annotations

import argparse
import json
import sys

import torch

from ..bench import DEFAULT_SIZES, VARIANTS, Size, bench_step, compiled_loops, run_bench
from ..errors import UserError

QUICK_SIZE = Size(20, 8, 16, 32)
QUICK_VARIANTS = ["lstm", "lstm_peephole", "gru_reset_before", "jordan"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="time every variant against torch.nn.LSTM and the naive loop (about 2-3 minutes)",
        description="Forward and forward+backward times (medians of interleaved repeats), saved "
        "memory for backward, and one-step latency; ratios against torch.nn.LSTM of the same "
        "size and against the naive autograd loop of the same cell.",
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        metavar="T,B,I,H",
        help="problem sizes (default: 100,32,64,256 100,64,512,512)",
    )
    p.add_argument(
        "--variants", nargs="+", metavar="NAME", help=f"subset of: {', '.join(VARIANTS)}"
    )
    p.add_argument(
        "--repeats", type=int, default=3, help="timed repeats per measurement (default 3)"
    )
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--quick", action="store_true", help="one tiny size, four variants (seconds)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of tables")
    p.set_defaults(func=run)


def parse_size(text: str) -> Size:
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise UserError(f"--sizes: expected four positive integers T,B,I,H, got {text!r}")
    T, B, I, H = (int(p) for p in parts)
    return Size(T, B, I, H)


def run(args: argparse.Namespace) -> int:
    if args.repeats < 1:
        raise UserError(f"--repeats must be at least 1, got {args.repeats}")
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    unknown = [v for v in args.variants or [] if v not in VARIANTS]
    if unknown:
        raise UserError(
            f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}"
        )
    if args.sizes:
        sizes = [parse_size(s) for s in args.sizes]
    else:
        sizes = [QUICK_SIZE] if args.quick else DEFAULT_SIZES
    variants = args.variants or (QUICK_VARIANTS if args.quick else list(VARIANTS))
    repeats = 1 if args.quick and args.repeats == 3 else args.repeats

    def progress(msg: str) -> None:
        if not args.json:
            print(f"  measuring {msg} ...", file=sys.stderr, flush=True)

    rows = run_bench(sizes, variants, repeats=repeats, progress=progress)
    steps = [bench_step(s, repeats=20 if args.quick else 50 * repeats) for s in sizes]
    if args.json:
        print(json.dumps({"rows": rows, "step": steps, "environment": _environment()}, indent=1))
        return 0
    env = _environment()
    print(
        f"torch {env['torch']}, {env['threads']} threads, compiled loops "
        f"{'on' if env['compiled_loops'] else 'off'}; medians of {repeats} interleaved repeats"
    )
    for size in sizes:
        print(f"\n{size}   (ms; x = ratio; saved = MiB kept for backward)")
        header = (
            f"{'variant':24s} {'kernel':9s} {'fwd':>7s} {'f+b':>8s} {'f+b/LSTM':>9s} "
            f"{'fwd/LSTM':>9s} {'naive f+b':>10s} {'speedup':>8s} {'saved':>7s} {'naive':>7s}"
        )
        print(header)
        print("-" * len(header))
        for r in rows:
            if r["size"] != str(size):
                continue
            print(
                f"{r['variant']:24s} {r['kernel']:9s} {r['fwd_ms']:7.1f} {r['fwdbwd_ms']:8.1f} "
                f"{r['fwdbwd_vs_lstm']:8.2f}x {r['fwd_vs_lstm']:8.2f}x {r['naive_fwdbwd_ms']:10.1f} "
                f"{r['fwdbwd_vs_naive']:7.1f}x {_mib(r['saved_bytes'])} {_mib(r['naive_saved_bytes'])}"
            )
        first = next(r for r in rows if r["size"] == str(size))
        print(
            f"{'torch.nn.LSTM':24s} {'native':9s} {first['lstm_fwd_ms']:7.1f} "
            f"{first['lstm_fwdbwd_ms']:8.1f} {'':>9s} {'':>9s} {'':>10s} {'':>8s} "
            f"{_mib(first['lstm_saved_bytes'])}"
        )
    print(
        "\none generation step (µs, median): rnnkit LSTM.step vs torch.nn.LSTM on a length-1 input"
    )
    for s in steps:
        print(
            f"  {s['size']:22s} nn.LSTM {s['nn_lstm_len1_us']:8.1f}   step {s['step_us']:8.1f} "
            f"({s['step_vs_lstm']:.2f}x)   peephole step {s['peephole_step_us']:8.1f} "
            f"({s['peephole_step_vs_lstm']:.2f}x)"
        )
    return 0


def _mib(n: int) -> str:
    return f"{n / 2**20:7.2f}"


def _environment() -> dict[str, object]:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "compiled_loops": compiled_loops(),
    }
