"""The translation task on the shared trainer, its metrics and its pictures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.config import ConfigError
from rnnkit.data.pairs import PairSet, build_pair_vocab
from rnnkit.errors import UserError
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.tasks.layer import LayerConfig
from rnnkit.tasks.translate import (
    TranslateData,
    TranslateModel,
    build_encoder_decoder,
    default_level,
    default_levels,
    load_pair_data,
)
from rnnkit.tasks.translate_metrics import by_length, corpus_scores, magnitude_errors
from rnnkit.tasks.translate_train import TranslateTask, max_output_length, truth_probability
from rnnkit.train.checkpoint import load_weights
from rnnkit.train.trainer import TrainConfig, Trainer, seed_everything
from rnnkit.viz.attention import plot_attention, plot_by_length

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def setup(m: TranslateModel, data: str = "reverse") -> tuple[Seq2Seq, TranslateTask]:
    seed_everything(0)
    d = TranslateData(train_size=200)
    level = default_level(data, "auto")
    pd = load_pair_data(data, d, seed=0)
    pd.val = pd.val.subset(range(20))
    sv, tv = build_pair_vocab(pd.train.sources, level), build_pair_vocab(pd.train.targets, level)
    layer = LayerConfig(cell="gru", hidden_size=8, num_layers=1)
    model = build_encoder_decoder(layer, m, len(sv), len(tv))
    train = PairSet(pd.train, sv, tv)
    task = TranslateTask(train, PairSet(pd.val, sv, tv), m, 16, max_output_length(train), 10, 0)
    return model, task


def train(run: Path, steps: int, resume: bool = False, lr: float = 2e-3, data: str = "reverse",
          **kw: object) -> Trainer:  # fmt: skip
    model, task = setup(TranslateModel(embedding=6, **kw), data)  # type: ignore[arg-type]
    run.mkdir(exist_ok=True)
    tc = TrainConfig(lr=lr, max_steps=steps, eval_every=0, checkpoint_every=2, log_every=1,
                     schedule="constant")  # fmt: skip
    t = Trainer(model, task, tc, run, progress=False)
    t.run(resume=resume)
    return t


def test_training_lowers_the_loss_and_reports_exact_match(tmp_path: Path) -> None:
    model, task = setup(TranslateModel(embedding=6), "dates")
    with torch.no_grad():
        before = task.evaluate(model.eval())["val_loss"]
    t = train(tmp_path / "a", 30, lr=1e-2, data="dates")
    rows = [r for r in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines() if "val_" in r]
    assert rows and "val_exact" in rows[-1]
    assert t.state.best_val is not None and t.state.best_val < before - 0.5


@pytest.mark.parametrize("kw", [{}, {"scheduled_sampling": "inverse-sigmoid", "sampling_k": 2.0}])
def test_resume_is_exact(tmp_path: Path, kw: dict[str, object]) -> None:
    whole = train(tmp_path / "whole", 6, **kw)
    train(tmp_path / "parts", 3, **kw)
    parts = train(tmp_path / "parts", 6, resume=True, **kw)
    for (k, a), (_, b) in zip(whole.model.state_dict().items(), parts.model.state_dict().items(), strict=True):  # fmt: skip
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    load_weights(tmp_path / "parts" / "model.safetensors", parts.model)


def test_truth_probability_schedules() -> None:
    lin = TranslateModel(scheduled_sampling="linear", sampling_k=100)
    assert [truth_probability(lin, s) for s in (0, 50, 200)] == [1.0, 0.5, 0.0]
    exp = TranslateModel(scheduled_sampling="exponential", sampling_k=0.5, sampling_floor=0.2)
    assert [truth_probability(exp, s) for s in (0, 1, 10)] == [1.0, 0.5, 0.2]
    assert truth_probability(TranslateModel(teacher_forcing=0.75), 99) == 0.75


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"attention": "luong"}, "attention 'luong' is unknown"),
        ({"scheduled_sampling": "exponential", "sampling_k": 2.0}, "sampling_k must be below 1"),
        ({"teacher_forcing": 1.5}, "teacher_forcing must be in"),
    ],
)
def test_bad_settings(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TranslateModel(**kw)  # type: ignore[arg-type]


def test_data_resolution_errors(tmp_path: Path) -> None:
    d = TranslateData()
    with pytest.raises(UserError, match="no such file, nor a built-in set"):
        load_pair_data(str(tmp_path / "x.tsv"), d, 0)
    f = tmp_path / "few.tsv"
    f.write_text("a\tb\n" * 5)
    with pytest.raises(UserError, match="at least 20"):
        load_pair_data(str(f), d, 0)
    f.write_text("a b c d\tb\n" * 40)
    with pytest.raises(UserError, match="every pair is longer than --max-length 2"):
        load_pair_data(str(f), TranslateData(max_length=2), 0)
    assert default_level("dates", "auto") == "char" and default_level("reverse", "auto") == "word"
    assert default_levels("numbers", d) == ("char", "word")
    assert default_levels("x.tsv", TranslateData(level="word", target_level="char")) == (
        "word",
        "char",
    )


def test_scores_with_sacrebleu_signature() -> None:
    pytest.importorskip("sacrebleu")
    s = corpus_scores(["the cat sat on the mat", "a b"], ["the cat sat on the mat", "a c"])
    assert s["exact"] == 50.0 and 0 < s["bleu"] < 100 and 0 < s["chrf"] < 100
    assert s["bleu_signature"].startswith("nrefs:1|") and "version:" in s["chrf_signature"]
    assert corpus_scores(["x y z w"], ["x y z w"])["bleu"] == pytest.approx(100.0)
    rows = by_length([2, 9, 10], ["a b", "c", "d"], ["a b", "c", "e"], bins=2)
    assert [(r["lengths"], r["n"], r["exact"]) for r in rows] == [("1-5", 1, 100.0), ("6-10", 2, 50.0)]  # fmt: skip


def test_magnitude_errors_of_numbers() -> None:
    hyps = ["forty-two", "four hundred two", "4200", "forty two thousand", "x"]
    refs = ["forty-two", "four hundred twenty", "420", "42", "9"]
    assert magnitude_errors(hyps, refs) == 3


def test_pictures(tmp_path: Path) -> None:
    w = torch.softmax(torch.randn(4, 3), -1)
    plot_attention(w, ["a", " ", "c"], ["x", "y", "z", "</s>"], tmp_path / "a.png", title="t")
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(UserError, match="attention matrix of shape"):
        plot_attention(w, ["a"], ["x"], tmp_path / "b.png")
    rows = [{"lengths": "1-5", "bleu": 90.0}, {"lengths": "6-10", "bleu": 80.0}]
    plot_by_length({"attention": rows, "none": rows}, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000
