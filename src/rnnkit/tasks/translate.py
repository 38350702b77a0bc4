"""The translate task: sentence pairs in, an encoder-decoder with attention trained on them.

``rnnkit train translate PAIRS --out RUN``. PAIRS is a built-in set (``dates``, ``numbers``,
``reverse``; :mod:`rnnkit.data.pairs_builtin`) or a pair file (Tatoeba/Anki TSV, CSV, JSONL;
:mod:`rnnkit.data.pairs`), of which 5 % (at most 1,000 pairs each) is kept aside for validation
and as the run's ``test.tsv``. The levels default to what suits the data: characters for
``dates``; digits by character and English words by word for ``numbers`` (either direction);
words for ``reverse`` (each integer is a word) and for sentences. At ``subword`` level (``--level
subword``, ``--target-level subword``) a side's symbols are the pieces of a SentencePiece model
trained on that side of the training pairs (:mod:`rnnkit.data.subword`); a resumed run reads
the run's piece models back instead of training them again.

The model (:class:`~rnnkit.models.seq2seq.Seq2Seq`) is built from the run's layer settings: the
encoder reads the source in ``--encoder-directions`` directions, the decoder is the same cell,
unidirectional, stepped token by token. The run keeps ``src_vocab.json`` and ``tgt_vocab.json``
(``<pad>``, ``<unk>``, ``<s>``, ``</s>`` first), at subword level the piece models
``src_subword.model`` / ``tgt_subword.model`` beside them, and, after training, ``attention.png``
(one validation sentence). ``rnnkit translate RUN "text"`` translates, ``rnnkit eval RUN DATA`` scores.
Training itself is :class:`~rnnkit.tasks.translate_train.TranslateTask`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from ..config import ConfigError, check, option
from ..data.pairs import (
    Pairs,
    PairSet,
    build_pair_vocab,
    clean,
    decode,
    encode,
    pair_tokens,
)
from ..data.pairs_builtin import BUILTIN_PAIRS
from ..data.subword import SubwordModel, sentencepiece
from ..data.vocab import Vocabulary
from ..decoding import Hypothesis, translate_ids
from ..errors import UserError
from ..models.seq2seq import ATTENTIONS, Seq2Seq, make_attention
from ..runs import atomic_write
from ..train.trainer import TrainResult
from .layer import LayerConfig, layer_output_size
from .spec import Prepared, RunConfig, TaskSpec
from .translate_data import (
    SRC_PIECES,
    TGT_PIECES,
    PairData,
    TranslateData,
    data_fingerprint,
    default_level,
    default_levels,
    filter_pair_data,
    fit_pieces,
    load_pair_data,
    load_pieces,
    split_pair_data,
)
from .translate_train import SCHEDULES, TranslateTask, max_output_length

__all__ = ["TRANSLATE", "PairData", "TranslateData", "TranslateModel", "TranslateSpec",
           "Translation", "default_level", "default_levels", "load_pair_data", "symbol_labels",
           "translate_texts"]  # fmt: skip

SRC_VOCAB, TGT_VOCAB, TEST = "src_vocab.json", "tgt_vocab.json", "test.tsv"


@dataclass
class TranslateModel:
    """What the encoder-decoder adds around the layers, and how it is fed in training."""

    attention: str = option("bahdanau", "bahdanau (additive), luong-dot, luong-general, or none "
                            "(plain encoder-decoder)", choices=tuple(ATTENTIONS))  # fmt: skip
    no_input_feeding: bool = option(False, "do not feed the attentional vector back (Luong 3.3)")
    encoder_directions: int = option(2, "1 or 2: the encoder reads the source one way or both",
                                     choices=(1, 2))  # fmt: skip
    embedding: int = option(32, "embedding size of each side", low=1, high=1 << 16)
    head_dropout: float = option(0.0, "dropout on embeddings and the attentional vector",
                                 low=0, high=1, high_open=True, metavar="P")  # fmt: skip
    teacher_forcing: float = option(1.0, "probability of feeding the gold previous token",
                                    low=0, high=1, metavar="P")  # fmt: skip
    scheduled_sampling: str = option("off", "decay of that probability (Bengio et al. 2015)",
                                     choices=SCHEDULES)  # fmt: skip
    sampling_k: float = option(1.0, "the schedule's k: steps (linear), rate < 1 (exponential), "
                               ">= 1 (inverse-sigmoid)", low=0, low_open=True)  # fmt: skip
    sampling_floor: float = option(0.0, "the schedule's lowest gold-token probability",
                                   low=0, high=1, metavar="P")  # fmt: skip
    eval_sentences: int = option(300, "validation pairs translated at each evaluation", low=0,
                                 fixed=False)  # fmt: skip
    max_output: int = option(0, "the output length guard in symbols; 0: twice the longest "
                             "training target + 10", low=0)  # fmt: skip

    def __post_init__(self) -> None:
        check(self)
        if self.scheduled_sampling == "exponential" and self.sampling_k >= 1:
            raise ConfigError("sampling_k", "must be below 1 for the exponential schedule")
        if self.scheduled_sampling in ("linear", "inverse-sigmoid") and self.sampling_k < 1:
            raise ConfigError("sampling_k", f"must be at least 1 for {self.scheduled_sampling}")


def build_encoder_decoder(layer: LayerConfig, m: TranslateModel, V_src: int, V_tgt: int) -> Seq2Seq:  # fmt: skip
    """The model of a run from its layer and model settings."""
    H, E, feed = layer.hidden_size, m.embedding, not m.no_input_feeding
    two = m.encoder_directions == 2
    enc_layer = layer
    if m.attention == "luong-dot" and two:  # both directions together must match the decoder
        if H % 2:
            raise UserError(f"--attention luong-dot with 2 encoder directions needs an even "
                            f"--hidden-size, got {H}")  # fmt: skip
        enc_layer = dataclasses.replace(layer, hidden_size=H // 2)
    encoder = enc_layer.build(E, bidirectional=two, batch_first=True)
    decoder = layer.build(E + (H if feed else 0), bidirectional=False)
    try:
        attention = make_attention(m.attention, layer_output_size(decoder), layer_output_size(encoder))  # fmt: skip
    except ValueError as e:
        raise UserError(f"--attention {m.attention}: {e}") from e
    return Seq2Seq(encoder, decoder, V_src, V_tgt, attention=attention, input_feeding=feed,
                   src_pad=0, tgt_pad=0, dropout=m.head_dropout)  # fmt: skip


@dataclass
class TranslateArtifacts:
    src_vocab: Vocabulary
    tgt_vocab: Vocabulary
    test_file: Pairs | None = None  # a pair file's held-out test split, kept as RUN/test.tsv
    val: PairSet | None = None
    src_pieces: SubwordModel | None = None  # the piece models of the sides at subword level
    tgt_pieces: SubwordModel | None = None


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def _write_tsv(path: Path, pairs: Pairs) -> None:
    text = "".join(f"{s}\t{t}\n" for s, t in zip(pairs.sources, pairs.targets, strict=True))
    write_text(path, text)


class TranslateSpec(TaskSpec):
    name = "translate"
    help = "translate: an encoder-decoder with attention learns sentence pairs"
    description = (
        "Train an encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015) on "
        "sentence pairs: a Tatoeba/Anki tab-separated file, CSV/JSONL with named columns, or a "
        "built-in set (dates, numbers, reverse). Defaults, as measured (docs/TRANSLATE.md): char "
        "level for dates; digits by char and words by word for numbers; word level otherwise "
        "(--level subword: SentencePiece pieces learnt from the training pairs); a "
        "64-unit LSTM encoder read both ways and an LSTM decoder with additive attention and "
        "input feeding; 5 minutes of training."
    )
    Data = TranslateData
    Model = TranslateModel
    defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "layer": {"hidden_size": 64, "num_layers": 1},
        "train": {"lr": 3e-3, "batch_size": 64, "time_budget": 300.0, "eval_every": 200,
                  "checkpoint_every": 1000},
    }  # fmt: skip
    data_help = f"a pair file (TSV/CSV/JSONL), or a built-in set ({', '.join(BUILTIN_PAIRS)})"
    hidden: ClassVar[Mapping[str, set[str]]] = {"layer": {"bidirectional"}}

    def adjust(self, given: Any, cfg: RunConfig) -> None:
        train = given.get("train", {})
        if "max_steps" in train and "time_budget" not in train:
            cfg.train.time_budget = 0.0  # a step limit alone means: no time limit
        if cfg.sources:
            cfg.data.level, cfg.data.target_level = default_levels(cfg.sources[0], cfg.data)

    def prepare(self, cfg: RunConfig) -> Prepared:
        return self._prepare(cfg, None)

    def prepare_resumed(self, cfg: RunConfig, run: Path) -> Prepared:
        """As :meth:`prepare`, with the piece models read from ``run``, not trained again."""
        return self._prepare(cfg, run)

    def _prepare(self, cfg: RunConfig, run: Path | None) -> Prepared:
        if len(cfg.sources) != 1:
            raise UserError(f"rnnkit train translate reads one PAIRS, got {len(cfg.sources)}")
        data, d, m = cfg.sources[0], cfg.data, cfg.model
        level, tgt_level = default_levels(data, d)
        if "subword" in (level, tgt_level):  # before reading anything
            sentencepiece("--level subword" if level == "subword" else "--target-level subword")
        pd = split_pair_data(data, d, cfg.train.seed)
        if run is None:
            pieces = fit_pieces(pd.train, d, cfg.train.seed, (level, tgt_level))
        else:
            pieces = load_pieces(run, (level, tgt_level))
        pd = filter_pair_data(pd, data, d, pieces)
        sp, tp = pieces
        sv = sp.vocabulary() if sp else build_pair_vocab(pd.train.sources, level, d.max_vocab,
                                                          d.min_count)  # fmt: skip
        tv = tp.vocabulary() if tp else build_pair_vocab(pd.train.targets, tgt_level, d.max_vocab,
                                                          d.min_count)  # fmt: skip
        train, val = PairSet(pd.train, sv, tv, pieces), PairSet(pd.val, sv, tv, pieces)
        max_len = max_output_length(train, m.max_output)
        cfg.fingerprint = data_fingerprint(data, d, cfg.train.seed)
        cfg.sources = [data if data in BUILTIN_PAIRS else str(Path(data).resolve())]
        cfg.info = {"source": data, "level": level, "target_level": tgt_level,
                    "pairs": len(train), "dropped": pd.dropped,
                    "src_vocab_size": len(sv), "tgt_vocab_size": len(tv), "max_output": max_len}  # fmt: skip
        task = TranslateTask(train, val, m, cfg.train.batch_size, max_len, m.eval_sentences,
                             cfg.train.seed)  # fmt: skip
        dropped = f", {pd.dropped:,} longer than --max-length dropped" if pd.dropped else ""
        levels = level if level == tgt_level else f"{level}-to-{tgt_level}"
        unit = {side: "pieces" if p else "symbols" for side, p in zip("st", pieces, strict=True)}
        clipped = any(p and len(p) < d.subword_vocab for p in pieces)
        fewer = f"; the text allows fewer than --subword-vocab {d.subword_vocab}" if clipped else ""
        describe = (f"on {len(train):,} {levels}-level pairs from {data}{dropped} ({len(sv)} source "
                    f"{unit['s']} and {len(tv)} target {unit['t']}{fewer}), validating on "
                    f"{len(val):,}")  # fmt: skip
        test = None if data in BUILTIN_PAIRS else pd.tests["test"]
        return Prepared(task, TranslateArtifacts(sv, tv, test, val, sp, tp), describe)

    def build_model(self, cfg: RunConfig, artifacts: Any) -> Seq2Seq:
        a: TranslateArtifacts = artifacts
        return build_encoder_decoder(cfg.layer, cfg.model, len(a.src_vocab), len(a.tgt_vocab))

    def save_artifacts(self, run: Path, artifacts: Any) -> None:
        artifacts.src_vocab.save(run / SRC_VOCAB)
        artifacts.tgt_vocab.save(run / TGT_VOCAB)
        for pieces, name in ((artifacts.src_pieces, SRC_PIECES), (artifacts.tgt_pieces, TGT_PIECES)):  # fmt: skip
            if pieces is not None:
                pieces.save(run / name)
        if artifacts.test_file is not None:
            _write_tsv(run / TEST, artifacts.test_file)

    def load_artifacts(self, run: Path, cfg: RunConfig) -> TranslateArtifacts:
        vocabs = []
        for name, key in ((SRC_VOCAB, "src_vocab_size"), (TGT_VOCAB, "tgt_vocab_size")):
            v = Vocabulary.load(run / name)
            if v.pad_index != 0 or v.bos_index is None or v.eos_index is None:
                raise UserError(
                    f"{run / name}: not a translation vocabulary (<pad> <unk> <s> </s>)"
                )
            if key in cfg.info and len(v) != cfg.info[key]:
                raise UserError(f"{run / name}: has {len(v)} symbols, the model {cfg.info[key]}")
            vocabs.append(v)
        pieces = load_pieces(run, (vocabs[0].level, vocabs[1].level))
        for v, p, name in zip(vocabs, pieces, (SRC_VOCAB, TGT_VOCAB), strict=True):
            if p is not None and p.pieces() != v.symbols:
                raise UserError(f"{run / name}: not the pieces of {p.source}")
        return TranslateArtifacts(vocabs[0], vocabs[1], src_pieces=pieces[0], tgt_pieces=pieces[1])

    def finish(self, model: nn.Module, prep: Prepared, run: Path, result: TrainResult) -> list[str]:
        a: TranslateArtifacts = prep.artifacts
        lines = []
        if a.val is not None and len(a.val) and isinstance(model, Seq2Seq):
            task: TranslateTask = prep.task  # type: ignore[assignment]
            h = task.translate(model, a.val, 1)[0]
            if h.attention is not None:
                from ..viz.attention import plot_attention

                src, out = a.val.pairs.sources[0], decode(a.tgt_vocab, h.tokens, a.tgt_pieces)
                plot_attention(h.attention,
                               symbol_labels(_symbols(a.src_vocab, a.val.src_ids[0]), a.src_pieces),
                               symbol_labels(_symbols(a.tgt_vocab, h.tokens) + ["</s>"] * h.finished,
                                             a.tgt_pieces),
                               run / "attention.png", title=f"{src} -> {out}")  # fmt: skip
                lines.append(f"attention of one validation sentence: {run / 'attention.png'}")
        if not result.interrupted:
            lines.append(f'translate with: rnnkit translate {run} "..."; score with: rnnkit eval {run} DATA')  # fmt: skip
        return lines


def _symbols(vocab: Vocabulary, ids: Any) -> list[str]:
    return [vocab.symbols[int(i)] for i in ids]


def symbol_labels(symbols: list[str], pieces: SubwordModel | None) -> list[str]:
    """How ``symbols`` read on a plot's axis: subword pieces as their text (the piece model's
    :meth:`~rnnkit.data.subword.SubwordModel.label`), other symbols as they are."""
    return symbols if pieces is None else [pieces.label(s) for s in symbols]


TRANSLATE = TranslateSpec()


@dataclass
class Translation:
    """One translated text: the output, its source symbols (as the model read them), how many of
    them were unknown, and the hypothesis (tokens, score, attention)."""

    text: str
    source_symbols: list[str]
    output_symbols: list[str]
    unknown: int
    hypothesis: Hypothesis


def translate_texts(model: Seq2Seq, cfg: RunConfig, artifacts: Any, texts: list[str], *,
                    beam: int = 1, alpha: float = 0.0, batch_size: int = 64) -> list[Translation]:  # fmt: skip
    """Translate ``texts`` with a trained run: cleaned as the training pairs were (NFC, and
    lower-cased if the run was), unknown symbols read as ``<unk>`` and counted; outputs joined
    back into text (subword pieces by the run's piece model)."""
    a: TranslateArtifacts = artifacts
    sv, tv = a.src_vocab, a.tgt_vocab
    ids, symbols = [], []
    for n, t in enumerate(texts, 1):
        text = clean(t, cfg.data.lower)
        if not text:
            raise UserError(f"input {n}: an empty text")
        ids.append(encode(sv, text, a.src_pieces).tolist())
        symbols.append(pair_tokens(text, sv.level, a.src_pieces))
    assert tv.bos_index is not None and tv.eos_index is not None
    hyps = translate_ids(model, ids, pad=0, bos=tv.bos_index, eos=tv.eos_index,
                         max_len=int(cfg.info.get("max_output") or cfg.model.max_output or 200),
                         beam=beam, alpha=alpha, batch_size=batch_size)  # fmt: skip
    return [Translation(decode(tv, h.tokens, a.tgt_pieces), s, _symbols(tv, h.tokens),
                        sum(i == sv.unk_index for i in x), h)
            for h, s, x in zip(hyps, symbols, ids, strict=True)]  # fmt: skip
