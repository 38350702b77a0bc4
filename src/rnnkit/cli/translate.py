"""``rnnkit translate RUN "text" | --input FILE``, and ``rnnkit eval RUN DATA`` for translate runs.

translate: one translation per input (per line of ``--input``), in order, to ``--output`` (written
once all are done, atomically) or stdout. The input is cleaned as the training pairs were (NFC,
lower-cased if the run was); symbols the run never saw are read as ``<unk>`` and counted on
stderr. ``--attention-plot`` draws the attention matrix of a single text (subword pieces labelled
with their text, as the run's piece model writes them).

eval: DATA is a pair file (read with the run's settings: columns, lower-casing, direction), the
run's own ``RUN/test.tsv``, or a built-in set's name (its test splits, regenerated as trained;
``dates`` reports seen and held-out formats apart). It prints BLEU and chrF (sacrebleu, with its
signature), exact match, and a table by source length; ``numbers`` also counts the outputs that
are not the right order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..data.pairs import Pairs, read_pairs
from ..data.pairs_builtin import BUILTIN_PAIRS, builtin_pairs
from ..devices import add_device_flag
from ..errors import UserError
from ..tasks import RunConfig, open_run
from ..tasks.translate import symbol_labels, translate_texts, write_text
from ..tasks.translate_metrics import by_length, corpus_scores, magnitude_errors

__all__ = ["add_arguments", "evaluate", "register", "run"]


def _beam_flags(p: argparse.ArgumentParser, note: str = "") -> None:
    p.add_argument("--beam", type=int, default=1, metavar="K",
                   help=f"{note}beam width; 1: greedy (default 1)")  # fmt: skip
    p.add_argument("--length-penalty", type=float, default=0.6, metavar="A",
                   help=f"{note}Wu et al. (2016)'s alpha for beam search (default 0.6)")  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate",
        help="translate text with a trained translate run",
        description="Translate TEXT, or each line of --input, with a translate run.",
    )
    p.add_argument("run", metavar="RUN", help="the run directory")
    p.add_argument("text", nargs="?", metavar="TEXT", help="the text to translate")
    p.add_argument("--input", metavar="FILE", help="translate each line of FILE instead")
    _beam_flags(p)
    p.add_argument("--attention-plot", metavar="OUT.png", help="draw the attention of one TEXT")
    p.add_argument("--output", metavar="FILE", help="write the translations here (default stdout)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N",
                   help="sentences decoded together (the output does not depend on it)")  # fmt: skip
    add_device_flag(p, default="cpu")
    p.set_defaults(func=run)


def _check_beam(beam: int, batch: int = 1) -> None:
    if beam < 1:
        raise UserError(f"--beam must be 1 or more, got {beam}")
    if batch < 1:
        raise UserError(f"--batch-size must be 1 or more, got {batch}")


def _read_lines(path: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise UserError(f"{path}: no such file") from e
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text") from e
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise UserError(f"{path}: empty; nothing to translate")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            raise UserError(f"{path} line {n}: an empty line (one text per line)")
    return lines


def run(args: argparse.Namespace) -> int:
    _check_beam(args.beam, args.batch_size)
    if (args.text is None) == (args.input is None):
        raise UserError("give one TEXT or --input FILE")
    if args.attention_plot and args.input:
        raise UserError("--attention-plot draws one TEXT; not with --input")
    texts = [args.text] if args.text is not None else _read_lines(args.input)
    tr = open_run(args.run, "translate", args.device)
    out = translate_texts(tr.model, tr.config, tr.artifacts, texts, beam=args.beam,  # type: ignore[arg-type]
                          alpha=args.length_penalty, batch_size=args.batch_size)  # fmt: skip
    unknown = sum(t.unknown for t in out)
    if unknown:
        print(f"rnnkit: note: {unknown} symbol(s) the run never saw were read as <unk>",
              file=sys.stderr)  # fmt: skip
    stopped = sum(not t.hypothesis.finished for t in out)
    if stopped:
        print(f"rnnkit: note: {stopped} translation(s) stopped at the length guard "
              f"({tr.config.info.get('max_output')} symbols)", file=sys.stderr)  # fmt: skip
    if args.attention_plot:
        t = out[0]
        if t.hypothesis.attention is None:
            raise UserError(f"{args.run}: trained with --attention none; no attention to draw")
        from ..viz.attention import plot_attention

        a = tr.artifacts
        source = symbol_labels(t.source_symbols, a.src_pieces)
        target = symbol_labels(t.output_symbols + ["</s>"] * t.hypothesis.finished, a.tgt_pieces)
        plot_attention(t.hypothesis.attention, source, target, args.attention_plot,
                       title=f"{texts[0]} -> {t.text}")  # fmt: skip
    text = "".join(t.text + "\n" for t in out)
    if args.output:
        write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0


# ----- rnnkit eval RUN DATA (translate runs) ----------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _beam_flags(parser, "translate runs: ")


def _eval_sets(data: str, cfg: RunConfig) -> dict[str, Pairs]:
    if data in BUILTIN_PAIRS:
        b = builtin_pairs(data, cfg.train.seed, cfg.data.train_size)
        sets = dict(b.tests)
        if cfg.data.reverse:
            sets = {k: Pairs(v.targets, v.sources, v.origins) for k, v in sets.items()}
        return sets
    return {Path(data).name: read_pairs(data, cfg.data.options())}


def evaluate(args: argparse.Namespace, config: RunConfig) -> int:
    beam = getattr(args, "beam", 1)
    _check_beam(beam)
    tr = open_run(args.run, "translate")
    results: dict[str, Any] = {"run": str(args.run), "data": args.data, "beam": beam,
                               "length_penalty": args.length_penalty, "splits": {}}  # fmt: skip
    for name, pairs in _eval_sets(args.data, config).items():
        out = translate_texts(tr.model, config, tr.artifacts, pairs.sources, beam=beam,  # type: ignore[arg-type]
                              alpha=args.length_penalty)  # fmt: skip
        hyps = [t.text for t in out]
        s = corpus_scores(hyps, pairs.targets)
        s["unknown"] = sum(t.unknown for t in out)
        s["stopped_by_length_guard"] = sum(not t.hypothesis.finished for t in out)
        if args.data == "numbers":
            s["magnitude_errors"] = magnitude_errors(hyps, pairs.targets)
        s["by_source_length"] = by_length([len(t.source_symbols) for t in out], hyps, pairs.targets)
        results["splits"][name] = s
    if args.json:
        print(json.dumps(results, sort_keys=True))
        return 0
    for name, s in results["splits"].items():
        parts = [f"exact match {s['exact']:.2f}%"]
        if "bleu" in s:
            parts += [f"BLEU {s['bleu']:.2f}", f"chrF {s['chrf']:.2f}"]
        if "magnitude_errors" in s:
            parts.append(f"{s['magnitude_errors']} wrong magnitude")
        print(f"{args.data} [{name}], {s['n']:,} pairs, beam {beam}: " + ", ".join(parts))
        if "bleu_signature" in s:
            print(f"  BLEU {s['bleu_signature']}\n  chrF {s['chrf_signature']}")
        else:
            print("  (BLEU and chrF need sacrebleu: pip install rnnkit[translate])")
        if s["unknown"]:
            print(f"  {s['unknown']:,} source symbols the run never saw, read as <unk>")
        print("  source length   pairs   exact" + ("    BLEU" if "bleu" in s else ""))
        for r in s["by_source_length"]:
            bleu = f"  {r['bleu']:6.2f}" if "bleu" in r else ""
            print(f"  {r['lengths']:>13}  {r['n']:6,}  {r['exact']:6.2f}{bleu}")
    return 0
