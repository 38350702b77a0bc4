"""``rnnkit export RUN``: tiny trained runs of each task out to ONNX (checked with onnxruntime
against the run's own model) and text runs to Keras; bad input exits 2 with one line."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported anywhere

import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks import open_run

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

pytestmark = [
    pytest.mark.usefixtures("one_thread"),  # tests/conftest.py
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning"),
]

TOL = 1e-5
TINY = ["--hidden-size", "8", "--batch-size", "4", "--max-steps", "3", "--eval-every", "3"]
TEXT = "".join(f"{w} saw {o}.\n" for w, o in [("Doug", "Jane"), ("Jane", "Spot")] * 40)


def _train(tmp: Path, name: str, *argv: Any) -> Path:
    run = tmp / name
    assert main(["train", *map(str, argv), "--out", str(run), *TINY, "--quiet"]) == 0
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    (tmp / "saw.txt").write_text(TEXT)
    with open(tmp / "reviews.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(24):
            w.writerow(
                [f"a {'good' if i % 2 else 'bad'} film" + " x" * (i % 3), "pos" if i % 2 else "neg"]
            )
    with open(tmp / "scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(24):
            w.writerow([f"a {'good' if i % 2 else 'bad'} film" + " x" * (i % 3), 3 + i % 2 * 4])
    X = np.random.default_rng(0).normal(size=(24, 5, 2)).astype(np.float32)
    np.savez(tmp / "d.npz", X=X, lengths=np.full(24, 5) - np.arange(24) % 3, y=X[:, 0, 0] * 3 + 1)
    words = ["the\tO", "dog\tB-ANIMAL", "cat\tB-ANIMAL", "runs\tO"]
    (tmp / "t.conll").write_text(
        "\n\n".join("\n".join(words[i % 4 :] + words[: i % 2]) for i in range(16))
    )
    seq = ["--seq-len", "8"]
    return {
        "text": _train(
            tmp,
            "text",
            "text",
            tmp / "saw.txt",
            "--cell",
            "peephole",
            "--num-layers",
            "2",
            "--embedding",
            "4",
            *seq,
        ),
        "onehot": _train(
            tmp, "onehot", "text", tmp / "saw.txt", "--cell", "gru", "--embedding", "0", *seq
        ),
        "classify": _train(
            tmp,
            "cls",
            "classify",
            tmp / "reviews.csv",
            "--bidirectional",
            "--pooling",
            "max",
            "--cell",
            "cifg",
        ),
        "regress": _train(tmp, "reg", "regress", tmp / "d.npz", "--cell", "jordan"),
        "classify_last": _train(
            tmp,
            "cls2",
            "classify",
            tmp / "reviews.csv",
            "--bidirectional",
            "--num-layers",
            "2",
            "--cell",
            "gru",
        ),
        "regress_text": _train(
            tmp, "reg2", "regress", tmp / "scores.csv", "--pooling", "mean", "--cell", "lstm"
        ),
        "tag": _train(
            tmp, "tag", "tag", tmp / "t.conll", "--cell", "gru-reset-before", "--bidirectional"
        ),
    }


def _session(path: Path) -> Any:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _export(run: Path, out: Path, *extra: str) -> None:
    assert main(["export", str(run), "--format", "onnx", "--out", str(out), *extra]) == 0


def _max_diff(got: list[np.ndarray], want: list[torch.Tensor]) -> float:
    assert [g.shape for g in got] == [tuple(w.shape) for w in want]
    return max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize("name", ["text", "onehot"])
def test_text_run_whole_and_step(runs: dict[str, Path], tmp_path: Path, name: str) -> None:
    run = open_run(runs[name])
    lm, V = run.model, len(run.artifacts.vocab)
    ids = torch.randint(0, V, (7, 3), generator=torch.Generator().manual_seed(0))
    _export(runs[name], tmp_path / "lm.onnx")
    sess = _session(tmp_path / "lm.onnx")
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["rnnkit.task"] == "text" and json.loads(meta["rnnkit.vocab"])
    with torch.no_grad():
        logits, state = lm(ids)
    state = state if isinstance(state, tuple) else (state,)
    assert _max_diff(sess.run(None, {"symbols": ids.numpy()}), [logits, *state]) <= TOL

    _export(runs[name], tmp_path / "step.onnx", "--step")
    step = _session(tmp_path / "step.onnx")
    names = [i.name for i in step.get_inputs()][1:]  # h (and c)
    feeds = {n: s.numpy() for n, s in zip(names, state, strict=True)}
    with torch.no_grad():  # continue the text one symbol at a time from the carried state
        for t in range(3):
            sym = ids[t]
            want_logits, want_state = lm.step(sym, state if len(state) > 1 else state[0])
            want = [want_logits, *(want_state if isinstance(want_state, tuple) else (want_state,))]
            got = step.run(None, {"symbol": sym.numpy(), **feeds})
            assert _max_diff(got, want) <= TOL
            feeds = dict(zip(names, got[1:], strict=True))
            state = tuple(want[1:])


def _lengths(B: int, T: int) -> torch.Tensor:
    return torch.tensor([T, 0, 2, T - 1][:B])


def test_classify_and_tag_runs(runs: dict[str, Path], tmp_path: Path) -> None:
    for name in ("classify", "classify_last", "regress_text", "tag"):
        run = open_run(runs[name])
        V = len(run.artifacts.vocab)
        ids = torch.randint(1, V, (4, 6), generator=torch.Generator().manual_seed(1))
        lens = _lengths(4, 6)
        ids[torch.arange(6)[None, :] >= lens[:, None]] = 0  # padding
        _export(runs[name], tmp_path / f"{name}.onnx")
        sess = _session(tmp_path / f"{name}.onnx")
        with torch.no_grad():
            want = run.model(ids, lens)
        if name == "regress_text":  # in the target's units, as predict prints it
            want = want * run.artifacts.target_std + run.artifacts.target_mean
        got = sess.run(None, {"input": ids.numpy(), "lengths": lens.numpy()})
        assert _max_diff(got, [want]) <= TOL, name
        if name != "regress_text":
            assert json.loads(sess.get_modelmeta().custom_metadata_map["rnnkit.labels"])


def test_regress_run_with_scalers(runs: dict[str, Path], tmp_path: Path) -> None:
    run = open_run(runs["regress"])
    enc = run.artifacts
    X = torch.from_numpy(np.random.default_rng(2).normal(size=(4, 5, 2)).astype(np.float32))
    lens = _lengths(4, 5)
    X[torch.arange(5)[None, :] >= lens[:, None]] = 0.0
    _export(runs["regress"], tmp_path / "reg.onnx")
    mean, std = torch.tensor(enc.feature_mean), torch.tensor(enc.feature_std)
    with torch.no_grad():  # what predict does: scale in, model, unscale out
        want = run.model((X - mean) / std, lens) * enc.target_std + enc.target_mean
    got = _session(tmp_path / "reg.onnx").run(None, {"input": X.numpy(), "lengths": lens.numpy()})
    assert _max_diff(got, [want]) <= TOL


def test_text_run_to_keras(runs: dict[str, Path], tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on its torch backend here")
    for name, cell_ok in (("onehot", True), ("text", False)):
        out = tmp_path / f"{name}.keras"
        code = main(["export", str(runs[name]), "--format", "keras", "--out", str(out)])
        if not cell_ok:  # a peephole LSTM: Keras has none
            assert code == 2
            continue
        assert code == 0
        lm = open_run(runs[name]).model
        ids = torch.randint(0, lm.vocab_size, (3, 7), generator=torch.Generator().manual_seed(3))
        model = keras.saving.load_model(out)
        got = keras.ops.convert_to_numpy(model(ids.numpy()))
        with torch.no_grad():
            want, _ = lm(ids.t())
        np.testing.assert_allclose(got, want.transpose(0, 1).numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize("name", ["classify_last", "regress_text", "tag"])
def test_sequence_run_to_keras(runs: dict[str, Path], tmp_path: Path, name: str) -> None:
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on its torch backend here")
    out = tmp_path / f"{name}.keras"
    assert main(["export", str(runs[name]), "--format", "keras", "--out", str(out)]) == 0
    run = open_run(runs[name])
    V = len(run.artifacts.vocab)
    ids = torch.randint(1, V, (4, 6), generator=torch.Generator().manual_seed(4))
    lens = _lengths(4, 6) if name != "regress_text" else torch.tensor([6, 1, 2, 5])  # mean: no 0
    ids[torch.arange(6)[None, :] >= lens[:, None]] = 0  # padding: what Keras masks
    with torch.no_grad():
        want = run.model(ids, lens)
    if name == "regress_text":  # the model predicts the z-scored target; Keras gives its units
        want = (want * run.artifacts.target_std + run.artifacts.target_mean)[:, None]
    got = keras.ops.convert_to_numpy(keras.saving.load_model(out)(ids.numpy()))
    np.testing.assert_allclose(got, want.numpy(), atol=TOL, rtol=0)


def test_bad_input(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        ([str(runs["classify"]), "--format", "keras"], "pooling 'max'"),
        ([str(runs["regress"]), "--format", "keras"], "numeric features"),
        ([str(runs["classify"]), "--format", "onnx", "--step"], "--step"),
        ([str(runs["text"]), "--format", "keras"], "peephole=True"),
        ([str(tmp_path / "nowhere"), "--format", "onnx"], "nowhere"),
    ]
    for argv, words in cases:
        capsys.readouterr()
        assert main(["export", *argv, "--out", str(tmp_path / "x.keras")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("rnnkit: error: ") and "\n" not in err and words in err, err
    assert (
        main(
            [
                "export",
                str(runs["text"]),
                "--format",
                "onnx",
                "--out",
                str(tmp_path / "no" / "x.onnx"),
            ]
        )
        == 2
    )
    assert "could not write" in capsys.readouterr().err
    assert not (tmp_path / "x.keras").exists()
