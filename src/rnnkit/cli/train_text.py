"""``rnnkit train text [CORPUS...] --out RUN``: learn a text, character by character (or word by word).

Without a CORPUS it trains on the built-in corpus (:mod:`rnnkit.data.builtin`) for two minutes.
The run directory gets ``config.json`` (task ``"text"``), ``vocab.json``, ``model.safetensors``,
``metrics.jsonl``, ``loss.png`` and a checkpoint; ``rnnkit sample RUN`` then writes more text
and ``rnnkit eval RUN FILE`` scores a held-out file.

``--resume`` continues from the last checkpoint with the stored model, vocabulary, batch and
window (CORPUS may be left out: the stored paths are read again, and must hold the same text);
training flags given on the command line (``--max-steps``, ``--time-budget``, ``--lr``, ...)
override the stored ones, e.g. to extend a finished run.

The defaults were measured on tinyshakespeare (docs/TEXT.md): a 2-layer LSTM of 256 units on a
64-wide embedding, dropout 0.1, batches of 32 streams x 128 characters, Adam at 3e-3 with 100
steps of warm-up and a cosine decay to the end of the time budget, gradient norm clipped at 5.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..data.builtin import builtin_corpus
from ..data.text import read_corpus, split_stream
from ..data.vocab import LEVELS, Vocabulary, tokenize
from ..errors import UserError
from ..models.language_model import LanguageModel
from ..train.checkpoint import load_run, load_weights, read_config, start_run, write_config
from ..train.text_task import TextTask
from ..train.trainer import Trainer, seed_everything
from .common import (
    add_model_args,
    add_training_args,
    batch_size,
    build_layer,
    layer_spec,
    train_config,
)

__all__ = ["build_model", "load_text_run", "register", "run"]

VOCAB = "vocab.json"
BUILTIN = "builtin"
BUILTIN_BUDGET = 120.0  # seconds, when training on the built-in corpus with no limit given
TRAINING_DEFAULTS = {
    "lr": 3e-3,
    "batch": 32,
    "time_budget": 300.0,
    "max_steps": 0,
    "warmup": 100,
    "schedule": "cosine",
    "eval_every": 250,
    "checkpoint_every": 500,
    "clip": 5.0,
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "text",
        help="learn a text and write more of it (char-rnn)",
        description="Train a recurrent language model on text files (or, with no CORPUS, on the "
        "built-in corpus: Python standard-library source, for 2 minutes).",
    )
    p.add_argument("corpus", nargs="*", metavar="CORPUS", help="text files or directories")
    p.add_argument("--out", required=True, metavar="RUN", help="the run directory to write")
    g = p.add_argument_group("text")
    g.add_argument("--level", default="char", help="symbols: char or word (default char)")
    inputs = g.add_mutually_exclusive_group()
    inputs.add_argument(
        "--embed", type=int, default=64, metavar="N", help="embedding size (default 64)"
    )
    inputs.add_argument(
        "--one-hot", action="store_true", help="feed one-hot vectors instead of an embedding"
    )
    g.add_argument(
        "--seq-len",
        type=int,
        default=128,
        metavar="N",
        help="symbols per truncated-BPTT window (default 128)",
    )
    g.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="the final fraction of the text held out for validation (default 0.1)",
    )
    g.add_argument(
        "--max-vocab",
        type=int,
        default=0,
        metavar="N",
        help="keep the N-1 most frequent symbols, the rest become <unk> "
        "(default: all for char, 10000 for word)",
    )
    g.add_argument("--encoding", default="utf-8", help="the corpus files' encoding (default utf-8)")
    add_model_args(p, defaults={"dropout": 0.1})
    add_training_args(p, TRAINING_DEFAULTS)
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run)


# ----- shared with sample and eval --------------------------------------------------------------


def build_model(config: dict[str, Any]) -> LanguageModel:
    """The (untrained) model that ``config["model"]`` describes."""
    m = config["model"]
    layer = build_layer(m["layer"], m["embed"] or m["vocab_size"])
    return LanguageModel(m["vocab_size"], layer, embed=m["embed"], dropout=m["layer"]["dropout"])


def load_text_run(run_dir: str | Path) -> tuple[LanguageModel, Vocabulary, dict[str, Any]]:
    """Model (with its trained weights, in eval mode), vocabulary and config of a text run.

    Raises:
        UserError: not a text run, or a missing, truncated or corrupted file (named).
    """
    run = load_run(run_dir, task="text")
    vocab = Vocabulary.load(run.path / VOCAB)
    try:
        model = build_model(run.config)
    except (KeyError, TypeError) as e:
        raise UserError(f"{run.path / 'config.json'}: not a complete text-run config ({e})") from e
    if len(vocab) != model.vocab_size:
        raise UserError(
            f"{run.path / VOCAB}: has {len(vocab)} symbols, the model {model.vocab_size}"
        )
    load_weights(run.path / "model.safetensors", model)
    model.eval()
    return model, vocab, run.config


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read(corpus: list[str], encoding: str) -> tuple[str, str, list[str]]:
    """(text, description, stored corpus entry)."""
    if not corpus:
        text, where = builtin_corpus()
        return text, where, [BUILTIN]
    text, files = read_corpus(corpus, encoding)
    where = str(files[0]) if len(files) == 1 else f"{len(files)} files"
    return text, where, [str(Path(c).resolve()) for c in corpus]


# ----- the command ------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.resume:
        resumable = start_run(out, "text", resume=True)
        config = read_config(out, task="text")
        corpus = args.corpus or [c for c in config["data"]["corpus"] if c != BUILTIN]
        text, where, _ = _read(corpus, config["data"]["encoding"])
        if _fingerprint(text) != config["data"]["sha256"]:
            raise UserError(f"{where}: not the text {out} was trained on (its checksum differs)")
        vocab = Vocabulary.load(out / VOCAB)
        train = train_config(args, stored=config["train"])
        config["train"] = train.to_dict()
        if args.batch is not None and args.batch != config["batch"]:
            raise UserError(
                f"--batch {args.batch}: a resumed run keeps its batch of {config['batch']} "
                "(the carried state has one row per stream)"
            )
        write_config(out, config)
    else:
        if out.exists():  # refuse a non-empty directory before reading the corpus
            start_run(out, "text", resume=False)
        config, text, vocab, where = _new_config(args)
        resumable = False
    data, level = config["data"], config["data"]["level"]
    ids = torch.tensor(vocab.encode_tokens(tokenize(text, level)), dtype=torch.long)
    train_ids, val_ids = split_stream(ids, data["val_fraction"])
    T, B = config["seq_len"], config["batch"]
    if len(train_ids) < B * T + 1:
        raise UserError(
            f"{where}: the training text has {len(train_ids):,} {level}s, fewer than one window of "
            f"--batch {B} x --seq-len {T} (+1) = {B * T + 1:,}; use a longer text or lower "
            "--batch or --seq-len"
        )
    if not args.resume:
        start_run(out, "text", resume=False)
        write_config(out, config)
        vocab.save(out / VOCAB)
    train = train_config(args, stored=config["train"])
    seed_everything(train.seed)
    model = build_model(config)
    task = TextTask(train_ids, val_ids, B, T, level)
    n_params = sum(p.numel() for p in model.parameters())
    spec = config["model"]["layer"]
    print(
        f"{'resuming' if resumable else 'training'} a {spec['layers']}x{spec['hidden']} "
        f"{spec['cell']} ({n_params / 1e6:.2f}M parameters) on {len(train_ids):,} {level}s from "
        f"{where} ({len(vocab)} symbols), validating on {len(val_ids):,}; run in {out}",
        flush=True,
    )
    result = Trainer(model, task, train, out, progress=not args.quiet).run(resume=resumable)
    if result.interrupted:
        return 130
    print(f"write with: rnnkit sample {out} --prime ...", flush=True)
    return 0


def _new_config(args: argparse.Namespace) -> tuple[dict[str, Any], str, Vocabulary, str]:
    if args.level not in LEVELS:
        raise UserError(f"--level {args.level!r} is unknown; choose char or word")
    for flag, value, ok in [
        ("--seq-len", args.seq_len, args.seq_len >= 1),
        ("--embed", args.embed, args.embed >= 1),
        ("--val-fraction", args.val_fraction, 0 < args.val_fraction < 1),
        ("--max-vocab", args.max_vocab, args.max_vocab == 0 or args.max_vocab >= 2),
    ]:
        if not ok:
            raise UserError(f"{flag}: {value} is out of range")
    spec = layer_spec(args)
    train = train_config(args)
    if args.max_steps is not None and args.time_budget is None:
        train.time_budget = 0.0  # a step limit alone means: no time limit
    elif args.max_steps is None and args.time_budget is None and not args.corpus:
        train.time_budget = BUILTIN_BUDGET
    batch = batch_size(args)
    text, where, corpus = _read(args.corpus, args.encoding)
    tokens = tokenize(text, args.level)
    n_val = max(1, round(len(tokens) * args.val_fraction))
    if len(tokens) - n_val < 2 or n_val < 2:
        raise UserError(
            f"{where}: {len(tokens):,} {args.level}s are too few to train and validate on"
        )
    max_vocab = args.max_vocab or (10_000 if args.level == "word" else 0)
    vocab = Vocabulary.from_tokens(tokens[: len(tokens) - n_val], args.level, max_size=max_vocab)
    prime = "\n" if "\n" in vocab else vocab.symbols[1] if len(vocab) > 1 else ""
    config = {
        "task": "text",
        "rnnkit_version": __version__,
        "data": {
            "corpus": corpus,
            "source": where,
            "encoding": args.encoding,
            "level": args.level,
            "val_fraction": args.val_fraction,
            "max_vocab": max_vocab,
            "symbols": len(tokens),
            "sha256": _fingerprint(text),
        },
        "model": {
            "vocab_size": len(vocab),
            "embed": 0 if args.one_hot else args.embed,
            "layer": spec,
        },
        "train": train.to_dict(),
        "batch": batch,
        "seq_len": args.seq_len,
        "sample": {"prime": prime},
    }
    return config, text, vocab, where
