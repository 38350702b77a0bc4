"""``rnnkit bench``: every variant against ``torch.nn.LSTM`` and the naive loop, side by side."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch

from ..bench import DEFAULT_SIZES, VARIANTS, Size, bench_step, compiled_loops, run_bench
from ..errors import UserError
from ..kernels.fused_c import build_info

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
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall time (default) or process CPU time (steadier on a shared machine; use with "
        "--threads 1)",
    )
    p.add_argument("--quick", action="store_true", help="one tiny size, four variants (seconds)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of tables")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
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

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    rows = run_bench(sizes, variants, repeats=repeats, progress=progress, clock=clock)
    steps = [bench_step(s, 20 if args.quick else 50 * repeats, clock=clock) for s in sizes]
    if args.json:
        env = {**_environment(), "clock": args.clock}
        print(json.dumps({"rows": rows, "step": steps, "environment": env}, indent=1))
        return 0
    env = _environment()
    env["clock"] = args.clock
    print((_markdown if args.markdown else _text)(rows, steps, env, repeats))
    return 0


COLUMNS = [  # (header, row key, format)
    ("kernel", "kernel", "{}"),
    ("fwd ms", "fwd_ms", "{:.1f}"),
    ("f+b ms", "fwdbwd_ms", "{:.1f}"),
    ("f+b ÷ LSTM", "fwdbwd_vs_lstm", "{:.2f}"),
    ("fwd ÷ LSTM", "fwd_vs_lstm", "{:.2f}"),
    ("f+b ÷ torch.nn", "fwdbwd_vs_torch", "{:.2f}"),
    ("naive f+b ms", "naive_fwdbwd_ms", "{:.1f}"),
    ("speed-up f+b", "fwdbwd_vs_naive", "{:.2f}x"),
    ("speed-up fwd", "fwd_vs_naive", "{:.2f}x"),
    ("saved MiB", "saved_bytes", "mib"),
    ("naive MiB", "naive_saved_bytes", "mib"),
]


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return ""
    return f"{value / 2**20:.1f}" if fmt == "mib" else fmt.format(value)


def _cells(row: dict[str, Any]) -> list[str]:
    return [_cell(row[key], fmt) for _, key, fmt in COLUMNS]


def _lstm_cells(row: dict[str, Any]) -> list[str]:
    blank = [""] * (len(COLUMNS) - 4)
    return ["native", f"{row['lstm_fwd_ms']:.1f}", f"{row['lstm_fwdbwd_ms']:.1f}", *blank,
            f"{row['lstm_saved_bytes'] / 2**20:.1f}"]  # fmt: skip


def _heading(env: dict[str, object], repeats: int) -> str:
    loops = "compiled C++" if env["compiled_loops"] else f"PyTorch ({build_info()['reason']})"
    return (
        f"torch {env['torch']}, {env['threads']} threads, fused loops in {loops}; "
        f"{'CPU' if env.get('clock') == 'cpu' else 'wall'} time, medians of {repeats} interleaved "
        "repeats. ÷ LSTM: time over torch.nn.LSTM's of the same "
        "size (below 1 is faster); ÷ torch.nn: over the torch.nn module computing the same; "
        "speed-up: the naive loop's time over rnnkit's; MiB: saved for backward."
    )


def _text(rows: list[dict[str, Any]], steps: list[dict[str, Any]], env: dict[str, object],
          repeats: int) -> str:  # fmt: skip
    lines = [_heading(env, repeats)]
    widths = [24] + [max(len(h), 9) for h, _, _ in COLUMNS]
    fmt = " ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    for size in dict.fromkeys(r["size"] for r in rows):
        sized = [r for r in rows if r["size"] == size]
        header = fmt.format("variant", *(h for h, _, _ in COLUMNS))
        lines += ["", size, header, "-" * len(header)]
        lines += [fmt.format(r["variant"], *_cells(r)) for r in sized]
        lines.append(fmt.format("torch.nn.LSTM", *_lstm_cells(sized[0])))
    lines += [
        "",
        "one generation step, µs (median): LSTM.step vs torch.nn.LSTM on a length-1 input",
    ]
    lines += [
        f"  {s['size']:22s} nn.LSTM {s['nn_lstm_len1_us']:8.1f}   step {s['step_us']:8.1f} "
        f"({s['step_vs_lstm']:.2f}x)   peephole step {s['peephole_step_us']:8.1f} "
        f"({s['peephole_step_vs_lstm']:.2f}x)"
        for s in steps
    ]
    return "\n".join(lines)


def _markdown(rows: list[dict[str, Any]], steps: list[dict[str, Any]], env: dict[str, object],
              repeats: int) -> str:  # fmt: skip
    lines = [_heading(env, repeats)]
    for size in dict.fromkeys(r["size"] for r in rows):
        sized = [r for r in rows if r["size"] == size]
        lines += [
            "",
            f"**{size}**",
            "",
            "| variant | " + " | ".join(h for h, _, _ in COLUMNS) + " |",
        ]
        lines.append("|---" * (len(COLUMNS) + 1) + "|")
        lines += [f"| {r['variant']} | " + " | ".join(_cells(r)) + " |" for r in sized]
        lines.append("| torch.nn.LSTM | " + " | ".join(_lstm_cells(sized[0])) + " |")
    lines += ["", "| one step (µs) | torch.nn.LSTM, length 1 | LSTM.step | peephole LSTM.step |",
              "|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {s['size']} | {s['nn_lstm_len1_us']:.1f} | {s['step_us']:.1f} "
        f"({s['step_vs_lstm']:.2f}x) | {s['peephole_step_us']:.1f} ({s['peephole_step_vs_lstm']:.2f}x) |"
        for s in steps
    ]
    return "\n".join(lines)


def _environment() -> dict[str, object]:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "compiled_loops": compiled_loops(),
    }
