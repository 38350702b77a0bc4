"""``rnnkit bench``: every variant against ``torch.nn.LSTM`` and the naive loop, side by side.

``--device`` picks where (as for ``train``, :mod:`rnnkit.devices`); on a CUDA device, and on any
device with ``--engines``, each fused variant is timed once per loop engine that runs there
(:func:`rnnkit.bench.available_engines`), in the same round-robin. ``--compile MODE`` adds the
naive loop under ``torch.compile`` (minutes of compiling per variant and size).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..bench import (
    COMPILE_MODES,
    DEFAULT_SIZES,
    VARIANTS,
    Size,
    available_engines,
    bench_step,
    compiled_loops,
    run_bench,
    target_misses,
)
from ..devices import add_device_flag, describe_device, resolve_device
from ..errors import UserError
from ..kernels.engines import triton_info
from ..kernels.fused_c import build_info
from ..runs import save_json

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
    add_device_flag(p)
    p.add_argument(
        "--engines",
        nargs="*",
        metavar="ENGINE",
        help="time each fused variant once per loop engine, side by side: the names given, or "
        "with none every engine that runs on the device (cpu: c torch; cuda: triton torch); "
        "on by default on CUDA",
    )
    p.add_argument(
        "--compile",
        nargs="?",
        const="auto",
        metavar="MODE",
        help="also time the naive loop under torch.compile (takes minutes): "
        f"{', '.join(COMPILE_MODES)}; without MODE: reduce-overhead on CUDA, default elsewhere",
    )
    p.add_argument(
        "--graphs",
        action="store_true",
        help="CUDA only: also time each fused engine with its forward and backward captured as "
        "CUDA graphs (rows named ENGINE+graphs)",
    )
    p.add_argument("--json", action="store_true", help="print JSON rows instead of tables")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument(
        "--save-json", metavar="FILE", help="also write the JSON (rows, steps, environment) to FILE"
    )
    p.set_defaults(func=run)


def parse_size(text: str) -> Size:
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise UserError(f"--sizes: expected four positive integers T,B,I,H, got {text!r}")
    T, B, I, H = (int(p) for p in parts)
    return Size(T, B, I, H)


def _engines(arg: list[str] | None, device: torch.device) -> list[str] | None:
    """The engines to time side by side (``None``: only the automatic choice)."""
    here = available_engines(device)
    if arg is None:
        return here if device.type == "cuda" else None
    unknown = [e for e in arg if e not in ("c", "triton", "torch")]
    if unknown:
        raise UserError(f"--engines: unknown {', '.join(unknown)}; choose from c, triton, torch")
    absent = [e for e in arg if e not in here]
    if absent:
        raise UserError(f"--engines {' '.join(absent)}: cannot run on {device} here; "
                        f"the engines here are {' '.join(here)}")  # fmt: skip
    return list(dict.fromkeys(arg)) or here


def _compile_mode(arg: str | None, device: torch.device) -> str | None:
    if arg is None:
        return None
    if arg == "auto":
        return "reduce-overhead" if device.type == "cuda" else "default"
    if arg not in COMPILE_MODES:
        raise UserError(f"--compile {arg!r}: choose one of {', '.join(COMPILE_MODES)}")
    return arg


def run(args: argparse.Namespace) -> int:
    if args.repeats < 1:
        raise UserError(f"--repeats must be at least 1, got {args.repeats}")
    device = resolve_device(args.device)
    if args.clock == "cpu" and device.type != "cpu":
        raise UserError(f"--clock cpu: times the CPU, not {device}; use --clock wall there")
    if args.save_json and not Path(args.save_json).parent.is_dir():
        raise UserError(f"--save-json {args.save_json}: no folder {Path(args.save_json).parent}")
    engines = _engines(args.engines, device)
    compile_mode = _compile_mode(args.compile, device)
    if args.graphs and device.type != "cuda":
        raise UserError(f"--graphs: CUDA graphs need a CUDA device, not {device}")
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
    rows = run_bench(sizes, variants, repeats=repeats, progress=progress, clock=clock,
                     device=device, engines=engines, compile_mode=compile_mode,
                     graphs=args.graphs)  # fmt: skip
    n_steps = 20 if args.quick else 50 * repeats
    steps = [bench_step(s, n_steps, clock=clock, device=device) for s in sizes]
    env = _environment(device)
    env |= {"clock": args.clock, "engines": engines, "compile": compile_mode, "graphs": args.graphs}
    report = {"rows": rows, "step": steps, "environment": env}
    if args.save_json:
        try:
            save_json(args.save_json, report)
        except OSError as e:
            raise UserError(f"--save-json {args.save_json}: cannot write ({e.strerror})") from e
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print((_markdown if args.markdown else _text)(rows, steps, env, repeats))
    return 0


COLUMNS = [  # (header, row key, format)
    ("kernel", "kernel", "{}"),
    ("engine", "engine", "{}"),
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
COMPILED = [  # with --compile
    ("compiled f+b ms", "compiled_fwdbwd_ms", "{:.1f}"),
    ("f+b ÷ compiled", "fwdbwd_vs_compiled", "{:.2f}"),
    ("compile s", "compile_s", "{:.0f}"),
]
Column = tuple[str, str, str]


def _columns(rows: list[dict[str, Any]]) -> list[Column]:
    compiled = any("compile_s" in r or "compile_error" in r for r in rows)
    return COLUMNS + (COMPILED if compiled else [])


def _compile_errors(rows: list[dict[str, Any]]) -> list[str]:
    failed = {
        f"{r['size']} {r['variant']}": r["compile_error"] for r in rows if "compile_error" in r
    }
    graphs = [f"CUDA graph capture failed for {r['size']} {r['variant']}[{r['engine']}]: "
              f"{r['graphs_error']}" for r in rows if "graphs_error" in r]  # fmt: skip
    return [f"torch.compile failed for {k}: {why}" for k, why in failed.items()] + graphs


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return ""
    return f"{value / 2**20:.1f}" if fmt == "mib" else fmt.format(value)


def _cells(row: dict[str, Any], columns: list[Column]) -> list[str]:
    return [_cell(row.get(key), fmt) for _, key, fmt in columns]


def _lstm_row(row: dict[str, Any]) -> dict[str, Any]:
    """The ``torch.nn.LSTM`` line of a size's table, from any row of that size."""
    cudnn = row["device"].startswith("cuda") and torch.backends.cudnn.is_available()
    return {
        "variant": "torch.nn.LSTM",
        "kernel": "cudnn" if cudnn else "native",
        "fwd_ms": row["lstm_fwd_ms"],
        "fwdbwd_ms": row["lstm_fwdbwd_ms"],
        "saved_bytes": row["lstm_saved_bytes"],
    }


def _heading(env: dict[str, Any], repeats: int) -> str:
    if str(env["device"]).startswith("cpu"):
        loops = "compiled C++" if env["compiled_loops"] else f"PyTorch ({build_info()['reason']})"
        where = f"cpu, {env['threads']} threads, fused loops in {loops}"
    else:
        triton = env["triton"]
        version = f"Triton {triton['version']}" if triton["installed"] else "no Triton"
        where = f"{env['device']}, {version}"
    engines = f"; engines side by side: {', '.join(env['engines'])}" if env.get("engines") else ""
    compiled = f"; naive loop also under torch.compile(mode={env['compile']!r})" if env.get(
        "compile") else ""  # fmt: skip
    return (
        f"torch {env['torch']} on {where}{engines}{compiled}; "
        f"{'CPU' if env.get('clock') == 'cpu' else 'wall'} time, medians of {repeats} interleaved "
        "repeats. ÷ LSTM: time over torch.nn.LSTM's of the same "
        "size (below 1 is faster); ÷ torch.nn: over the torch.nn module computing the same; "
        "speed-up: the naive loop's time over rnnkit's; MiB: saved for backward."
    )


def _target(rows: list[dict[str, Any]], bullet: str) -> list[str]:
    """Issue 13's target (set for a GPU at T=100, B=64, I=H=512) checked on every row."""
    misses = target_misses(rows)
    head = "target (issue 13): f+b within 1.5x torch.nn.LSTM and at least 3x the naive loop"
    if not misses:
        return [f"{head}: met by all {len(rows)} rows"]
    return [f"{head}: missed by {len(misses)} of {len(rows)} rows", *(bullet + m for m in misses)]


def _text(rows: list[dict[str, Any]], steps: list[dict[str, Any]], env: dict[str, Any],
          repeats: int) -> str:  # fmt: skip
    lines = [_heading(env, repeats)]
    columns = _columns(rows)
    widths = [24] + [max(len(h), 9) for h, _, _ in columns]
    fmt = " ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    for size in dict.fromkeys(r["size"] for r in rows):
        sized = [r for r in rows if r["size"] == size]
        header = fmt.format("variant", *(h for h, _, _ in columns))
        lines += ["", size, header, "-" * len(header)]
        lines += [fmt.format(r["variant"], *_cells(r, columns)) for r in sized]
        lines.append(fmt.format("torch.nn.LSTM", *_cells(_lstm_row(sized[0]), columns)))
    lines += ["", *_compile_errors(rows), *_target(rows, "  "), ""]
    lines.append("one generation step, µs (median): LSTM.step vs torch.nn.LSTM on a length-1 input")
    lines += [
        f"  {s['size']:22s} nn.LSTM {s['nn_lstm_len1_us']:8.1f}   step {s['step_us']:8.1f} "
        f"({s['step_vs_lstm']:.2f}x)   peephole step {s['peephole_step_us']:8.1f} "
        f"({s['peephole_step_vs_lstm']:.2f}x)"
        for s in steps
    ]
    return "\n".join(lines)


def _markdown(rows: list[dict[str, Any]], steps: list[dict[str, Any]], env: dict[str, Any],
              repeats: int) -> str:  # fmt: skip
    lines = [_heading(env, repeats)]
    columns = _columns(rows)
    for size in dict.fromkeys(r["size"] for r in rows):
        sized = [r for r in rows if r["size"] == size]
        lines += [
            "",
            f"**{size}**",
            "",
            "| variant | " + " | ".join(h for h, _, _ in columns) + " |",
            "|---" * (len(columns) + 1) + "|",
        ]
        for r in [*sized, _lstm_row(sized[0])]:
            lines.append(f"| {r['variant']} | " + " | ".join(_cells(r, columns)) + " |")
    lines += ["", *(e + "\n" for e in _compile_errors(rows)), *_target(rows, "- ")]
    lines += ["", "| one step (µs) | torch.nn.LSTM, length 1 | LSTM.step | peephole LSTM.step |",
              "|---|---|---|---|"]  # fmt: skip
    lines += [
        f"| {s['size']} | {s['nn_lstm_len1_us']:.1f} | {s['step_us']:.1f} "
        f"({s['step_vs_lstm']:.2f}x) | {s['peephole_step_us']:.1f} ({s['peephole_step_vs_lstm']:.2f}x) |"
        for s in steps
    ]
    return "\n".join(lines)


def _environment(device: torch.device) -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "device": describe_device(device),
        "threads": torch.get_num_threads(),
        "compiled_loops": compiled_loops(),
        "triton": triton_info(),
    }
