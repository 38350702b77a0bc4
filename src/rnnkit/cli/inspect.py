"""``rnnkit inspect RUN [TEXT | --input FILE] [--out PAGE.html] [--units N] [--png DIR]``.

A text run: one self-contained HTML page showing every symbol of the text coloured by a picked
unit (``h``, ``c`` or a gate of any layer), the model's probability of each symbol, the units
that track simple features of the text (quotes, brackets, position in the line, indentation,
word starts) ranked by correlation, and for LSTM/GRU the gate saturation scatter (also as
``saturation.png`` with ``--png``). Without TEXT or ``--input`` it reads the start of the run's
validation text. A classify, regress or tag run (``--input`` a data file or the run's built-in
set): how the last layer's hidden state and the prediction evolve step by step over the first
inputs, as a page and PNGs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data.text import read_corpus
from ..devices import add_device_flag
from ..errors import UserError
from ..inspection import MAX_SYMBOLS, saturation, text_features, trace_text, unit_correlations
from ..models.language_model import LanguageModel
from ..runs import atomic_write
from ..tasks import open_run
from ..tasks.run import TrainedRun
from ..train.checkpoint import read_config

__all__ = ["register", "run"]

TASKS = ("text", "classify", "regress", "tag")
DEFAULT_TEXT = 3000  # symbols of the validation text read when no text is given


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="look inside a trained model: units and gates on a text as a web page",
        description="Write a self-contained HTML page of what a trained model's units do on a "
        "text (text runs) or how its state and prediction evolve over an input (classify, "
        "regress, tag runs).",
    )
    p.add_argument("run", metavar="RUN", help="a run directory (text, classify, regress or tag)")
    p.add_argument("text", nargs="?", default=None, metavar="TEXT", help="text to read (text runs)")
    p.add_argument(
        "--input",
        default=None,
        metavar="FILE",
        help="read the text from FILE (text runs), or the data to show (sequence runs: a file "
        "as the run's training data, or its built-in set)",
    )
    p.add_argument(
        "--out", default=None, metavar="PAGE.html", help="the page (default RUN/inspect.html)"
    )
    p.add_argument(
        "--units",
        type=int,
        default=8,
        metavar="N",
        help="units of each layer and kind held by the page, besides the ranked ones (default 8)",
    )
    p.add_argument(
        "--png", default=None, metavar="DIR", help="also write the figures as PNG files in DIR"
    )
    add_device_flag(p, default="cpu")
    p.set_defaults(func=run)


def _say(line: str) -> None:
    print(f"rnnkit inspect: {line}", file=sys.stderr)


def _png_dir(png: str | None) -> Path | None:
    if png is None:
        return None
    path = Path(png)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--png {png}: cannot create the directory ({e.strerror})") from e
    return path


def _default_text(trained: TrainedRun) -> str:
    """The start of the run's validation text (the corpus's final fraction)."""
    from ..data.builtin import builtin_corpus
    from ..tasks.text import BUILTIN

    cfg = trained.config
    if cfg.sources in ([], [BUILTIN]):
        text, _ = builtin_corpus()
    else:
        missing = [s for s in cfg.sources if not Path(s).exists()]
        if missing:
            raise UserError(f"{missing[0]}: the run's corpus is gone; give a TEXT or --input FILE")
        text, _ = read_corpus(cfg.sources, cfg.data.encoding)
    start = int(len(text) * (1 - cfg.data.val_fraction))
    start = text.find("\n", start) + 1 or start  # from the start of a line
    return text[start : start + DEFAULT_TEXT]


def _read_text(args: argparse.Namespace, trained: TrainedRun) -> tuple[str, str]:
    """``(text, where it came from)``."""
    if args.text is not None and args.input is not None:
        raise UserError("give the text either as TEXT or with --input FILE, not both")
    if args.input is not None:
        path = Path(args.input)
        if not path.is_file():
            raise UserError(f"--input {args.input}: no such file")
        try:
            return path.read_text(encoding=trained.config.data.encoding), str(path)
        except (UnicodeDecodeError, OSError) as e:
            raise UserError(f"--input {args.input}: cannot read it as text ({e})") from e
    if args.text is not None:
        return args.text, "the command line"
    return _default_text(trained), "the start of the run's validation text"


def _inspect_text(args: argparse.Namespace, trained: TrainedRun, out: Path) -> int:
    from ..viz.inspect_page import render_text_page

    model, vocab = trained.model, trained.artifacts.vocab
    assert isinstance(model, LanguageModel)
    text, where = _read_text(args, trained)
    if not text:
        raise UserError(f"the text from {where} is empty; give a TEXT or --input FILE")
    try:
        trace = trace_text(model, vocab, text, MAX_SYMBOLS)
    except ValueError as e:
        raise UserError(f"the text from {where}: {e}") from e
    notes = []
    if trace.capped:
        notes.append(
            f"the text has {trace.total:,} {vocab.level}s; the page shows the first "
            f"{len(trace.pieces):,}"
        )
    if trace.unknown:
        unknown = vocab.unknown(text)
        shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        notes.append(
            f"{len(trace.unknown)} symbol(s) outside the vocabulary ({shown}) are read as <unk>"
        )
    for note in notes:
        _say(note)
    features = text_features(trace.pieces)
    ranked = unit_correlations(trace, features)
    sat = saturation(trace)
    png = _png_dir(args.png)
    title = f"rnnkit inspect {trained.path}"
    page = render_text_page(trace, ranked, sat, units=args.units, title=title, notes=notes)

    def write(tmp: Path) -> None:
        tmp.write_text(page, encoding="utf-8")

    atomic_write(out, write)
    print(f"page: {out} ({len(page) / 1024:.0f} KB, {len(trace.pieces):,} symbols from {where})")
    for name, scores in ranked.items():
        if scores:
            s = scores[0]
            print(f"  {name:<14} best unit: layer {s.layer} {s.kind} {s.unit:<4} r = {s.r:+.3f}")
        else:
            print(f"  {name:<14} does not vary in this text")
    if png is not None and sat:
        from ..viz.inspect_png import plot_saturation

        plot_saturation(sat, png / "saturation.png", title=f"gate saturation, {trained.path.name}")
        print(f"saturation scatter: {png / 'saturation.png'}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.units < 1:
        raise UserError(f"--units must be a positive integer, got {args.units}")
    task = read_config(args.run).get("task")
    if task not in TASKS:
        raise UserError(
            f"{args.run}: inspect does not support {task!r} runs yet (it reads "
            f"{', '.join(TASKS)} runs)"
        )
    trained = open_run(args.run, TASKS, args.device)
    out = Path(args.out) if args.out is not None else trained.path / "inspect.html"
    if out.is_dir():
        raise UserError(f"--out {out}: is a directory; name the page, e.g. {out / 'inspect.html'}")
    if trained.config.task == "text":
        return _inspect_text(args, trained, out)
    from ..inspection_seq import inspect_sequences

    if args.text is not None:
        raise UserError(f"{args.run} is a {trained.config.task!r} run: give its data with --input")
    if args.input is None:
        raise UserError(
            f"{args.run} is a {trained.config.task!r} run: give --input (a data file read as "
            "its training data was, or its built-in set)"
        )
    return inspect_sequences(trained, args.input, out, _png_dir(args.png))
