"""rnnkit inspect and the gradient flow: text features, correlations, gate saturation, the
trace against the model, the CLI on text and sequence runs, bad input, compare --gradients."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data.batching import Batch
from rnnkit.data.vocab import Vocabulary
from rnnkit.gradflow import gradient_norms
from rnnkit.inspection import Trace, saturation, text_features, trace_text, unit_correlations
from rnnkit.inspection_seq import trace_sequence
from rnnkit.models import LanguageModel, SequenceClassifier, SequenceRegressor, SequenceTagger
from rnnkit.tasks import open_run

pytestmark = pytest.mark.usefixtures("one_thread")

CORPUS = "".join(f'def f{i}(x):\n    return "s{i}" + (x * [{i}, 2])\n' for i in range(40))


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inspect")
    (root / "c.txt").write_text(CORPUS)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train", "text", str(root / "c.txt"), "--out", str(root / "run"),
                     "--hidden-size", "8", "--num-layers", "2", "--max-steps", "1",
                     "--batch-size", "2", "--seq-len", "16", "--embedding", "4"]) == 0  # fmt: skip
    finally:
        torch.set_num_threads(n)
    return root / "run"


# ----- features, correlations, saturation ---------------------------------------------------


def test_text_features_on_known_structure() -> None:
    text = 'x = "a(b" + f(y[1])\n  don\'t\n"""doc\n(more"""z\n'
    f = text_features(list(text))
    quoted = "".join(ch for ch, q in zip(text, f["in_quotes"], strict=True) if q)
    assert quoted == '"a(b"' + '"""doc\n(more"""'  # brackets inside strings are not counted
    depth = [int(d) for d in f["bracket_depth"][: text.index("\n")]]
    assert depth == [0] * 13 + [1, 1, 2, 2, 1, 0]
    line2 = slice(text.index("\n") + 1, text.index("\n") + 8)
    assert f["indentation"][line2].tolist() == [1, 2, 2, 2, 2, 2, 2]
    assert f["line_position"][line2].tolist() == [0, 1, 2, 3, 4, 5, 6]
    starts = [text[i] for i in np.flatnonzero(f["word_start"])]
    assert starts == ["x", "a", "b", "f", "y", "1", "d", "t", "d", "m", "z"]
    assert not f["in_quotes"][text.index("'")]  # an apostrophe opens no string


def test_correlation_ranks_a_planted_unit_first() -> None:
    f = text_features(list('ab "quoted text" cd "more" e\n' * 5))
    rng = np.random.default_rng(0)
    T = len(f["in_quotes"])
    h = rng.normal(0, 1, (T, 6))
    h[:, 4] = f["in_quotes"] * 2 - 1 + rng.normal(0, 0.1, T)  # unit 4 tracks the quotes
    trace = Trace(["x"] * T, [], {(0, "h"): h, (1, "c"): -h}, ["h", "c"], np.zeros(T), T)
    best = unit_correlations(trace, f, top=2)["in_quotes"]
    assert [(s.layer, s.kind, s.unit) for s in best] == [(0, "h", 4), (1, "c", 4)]
    assert best[0].r > 0.99 and best[1].r == pytest.approx(-best[0].r)
    assert unit_correlations(trace, f)["bracket_depth"] == []  # never varies: nothing ranked


def test_saturation_against_hand_counts() -> None:
    f = np.array([[0.05, 0.5], [0.95, 0.5], [0.2, 0.91], [0.09, 0.1]])
    g = np.array([[0.0, 5.0]] * 4)  # a tanh candidate: left out
    trace = Trace(["a"] * 4, [], {(0, "f"): f, (0, "g"): g}, ["f", "g"], np.zeros(4), 4)
    sat = saturation(trace)
    assert list(sat) == [(0, "f")]
    left, right = sat[(0, "f")]
    assert left.tolist() == [0.5, 0.0] and right.tolist() == [0.25, 0.25]


def test_trace_matches_the_model() -> None:
    torch.manual_seed(0)
    vocab = Vocabulary.from_tokens(list("abc ()\n"), "char")
    lm = LanguageModel(len(vocab), rnnkit.LSTM(4, 5, num_layers=2), embed=4).eval()
    text = "ab (c)\nba é"
    tr = trace_text(lm, vocab, text)
    ids = torch.tensor(vocab.encode(text))
    logits, _ = lm(ids[:, None])
    p = logits[:-1, 0].softmax(-1).gather(1, ids[1:, None])[:, 0]
    assert np.isnan(tr.prob[0]) and np.allclose(tr.prob[1:], p.detach().numpy(), atol=1e-6)
    assert tr.kinds == ["h", "c", "i", "f", "g", "o"]
    assert lm.embed is not None
    out, _ = lm.rnn(lm.embed(ids[:, None]))
    assert np.allclose(tr.values[(1, "h")], out[:, 0].detach().numpy(), atol=1e-6)
    f, i, g = (tr.values[(0, k)] for k in "fig")
    c = tr.values[(0, "c")]
    assert np.allclose(c[1:], f[1:] * c[:-1] + i[1:] * g[1:], atol=1e-5)  # c_t = f c_{t-1} + i g
    assert tr.pieces[-1] == "<unk>" and tr.unknown == [len(text) - 1]
    assert trace_text(lm, vocab, text, max_symbols=4).total == len(text)


# ----- gradient flow ---------------------------------------------------------------------------


def _ratios(make: type | object, **kw: object) -> list[float]:
    out = []
    for seed in range(3):
        torch.manual_seed(seed)
        model = SequenceRegressor(make(2, 16, batch_first=True, **kw))  # type: ignore[operator]
        b = Batch(torch.randn(16, 30, 2), torch.full((16,), 30), torch.randn(16))
        g = gradient_norms(model, b, lambda m, b: (((m(b.x, b.lengths) - b.y) ** 2).mean(), 16))
        assert g.shape == (30,) and (g > 0).all()
        out.append(g[0] / g[20])
    return out


def test_gradient_vanishes_for_tanh_rnn_not_for_lstm_at_init() -> None:
    rnn = _ratios(rnnkit.RNN)
    lstm = _ratios(rnnkit.LSTM, unit_forget_bias=True)
    assert (
        min(rnn) > 1e4
    )  # ~0.58^20 from the recurrent weights alone (uniform init, radius 1/sqrt 3)
    assert max(lstm) < 1e3 and min(rnn) > 30 * max(lstm)


def test_compare_gradients(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", "--task", "adding", "--length", "21", "--cells", "rnn,lstm",
                 "--seeds", "1", "--steps", "1", "--hidden-size", "4", "--eval-every", "1",
                 "--unit-forget-bias", "--out", str(out), "--gradients"]) == 0  # fmt: skip
    assert "gradient flow:" in capsys.readouterr().out
    flows = json.loads((out / "compare.json").read_text())["gradients"]
    assert (out / "gradients.png").stat().st_size > 10_000
    for cell in ("rnn", "lstm"):
        assert len(flows[cell]["init"]) == len(flows[cell]["trained"]) == 21
        assert flows[cell]["ratio_distance"] == 20
    assert flows["rnn"]["init_ratio"] > 30 * flows["lstm"]["init_ratio"]


# ----- the command -----------------------------------------------------------------------------


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and "\n" not in err
    return err


def test_inspect_text_run(
    text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "p.html"
    assert main(["inspect", str(text_run), "--out", str(page), "--png", str(tmp_path / "png"),
                 "--units", "3"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "in_quotes" in out and "best unit" in out
    html = page.read_text()
    assert "<script" in html and "http://" not in html and "https://" not in html
    data = json.loads(re.search(r'id="data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert data["kinds"] == ["h", "c", "i", "f", "g", "o"] and data["layers"] == [0, 1]
    assert all(len(units) >= 3 for units in data["units"].values())
    assert (tmp_path / "png" / "saturation.png").stat().st_size > 10_000
    assert main(["inspect", str(text_run), 'print("hi")']) == 0  # default --out: RUN/inspect.html
    assert (text_run / "inspect.html").exists()


def test_inspect_caps_long_text_and_marks_unknown_symbols(
    text_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("rnnkit.cli.inspect.MAX_SYMBOLS", 50)
    src = tmp_path / "in.txt"
    src.write_text("déf f(x):\n" * 20)
    page = tmp_path / "p.html"
    assert main(["inspect", str(text_run), "--input", str(src), "--out", str(page)]) == 0
    err = capsys.readouterr().err
    assert "the text has 200 chars; the page shows the first 50" in err
    assert "'é'" in err and "<unk>" in err
    data = json.loads(re.search(r'id="data">(.*?)</script>', page.read_text(), re.S).group(1))  # type: ignore[union-attr]
    assert len(data["pieces"]) == 50 and data["pieces"][1] == "<unk>" and data["unk"][0] == 1


def test_inspect_bad_input(
    text_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(text_run)
    assert "empty" in _fails(["inspect", run, ""], capsys)
    assert "could not write" in _fails(
        ["inspect", run, "x", "--out", str(tmp_path / "no" / "p.html")], capsys
    )
    assert "not both" in _fails(["inspect", run, "x", "--input", run], capsys)
    assert "no such file" in _fails(["inspect", run, "--input", str(tmp_path / "missing")], capsys)
    assert "--units" in _fails(["inspect", run, "x", "--units", "0"], capsys)
    other = tmp_path / "forecast-run"
    shutil.copytree(text_run, other)
    cfg = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**cfg, "task": "forecast"}))
    err = _fails(["inspect", str(other)], capsys)
    assert "does not support 'forecast' runs yet" in err
    assert "no such run directory" in _fails(["inspect", str(tmp_path / "nothing")], capsys)


def test_inspect_sequence_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "cls"
    assert main(["train", "classify", "dinner", "--out", str(run), "--max-steps", "1",
                 "--hidden-size", "6", "--eval-every", "1"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["inspect", str(run), "--input", "dinner", "--png", str(tmp_path / "png")]) == 0
    assert len(list((tmp_path / "png").glob("sequence-*.png"))) == 3
    assert (run / "inspect.html").read_text().count("data:image/png;base64,") == 3
    assert "--input" in _fails(["inspect", str(run)], capsys)
    trained = open_run(run)
    x = torch.randn(7, trained.model.encoder.layer.input_size)  # type: ignore[union-attr, arg-type]
    tr = trace_sequence(trained.model, x)
    full = trained.model(x[None], torch.tensor([7])).softmax(-1)[0]
    assert tr.hidden.shape == (7, 6) and np.allclose(tr.prediction[-1], full.detach().numpy())


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_sequence_prediction_at_each_step_is_the_model_on_that_prefix(pooling: str) -> None:
    torch.manual_seed(0)
    clf = SequenceClassifier(rnnkit.GRU(3, 5, batch_first=True), 4, pooling=pooling).eval()
    reg = SequenceRegressor(rnnkit.LSTM(3, 5, batch_first=True), pooling=pooling).eval()
    x = torch.randn(6, 3)
    tc = trace_sequence(clf, x, pooling=pooling)
    tr = trace_sequence(reg, x, pooling=pooling, target=(10.0, 2.0))
    for t in range(1, 7):
        n = torch.tensor([t])
        assert torch.allclose(torch.from_numpy(tc.prediction[t - 1]).float(),
                              clf(x[None, :t], n).softmax(-1)[0], atol=1e-6)  # fmt: skip
        assert tr.prediction[t - 1] == pytest.approx(
            float(reg(x[None, :t], n).detach()) * 2 + 10, abs=1e-5
        )


def test_tagger_trace_is_its_per_step_output() -> None:
    torch.manual_seed(0)
    tagger = SequenceTagger(
        rnnkit.LSTM(4, 5, batch_first=True), 3, embedding=torch.nn.Embedding(9, 4)
    )
    x = torch.tensor([1, 5, 2, 8])
    tr = trace_sequence(tagger, x)
    want = tagger.eval()(x[None], torch.tensor([4])).softmax(-1)[0]
    assert tr.hidden.shape == (4, 5) and np.allclose(
        tr.prediction, want.detach().numpy(), atol=1e-6
    )
