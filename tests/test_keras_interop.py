"""Keras 3 weights in and out: round trips keep weights bit for bit, and Keras's own forward (torch
backend) agrees with rnnkit's; ``.keras`` and legacy ``.h5`` files are read with h5py alone."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported anywhere

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import UserError

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from rnnkit.interop import from_keras, to_keras  # noqa: E402
from rnnkit.interop.spec import describe  # noqa: E402

pytestmark = [
    pytest.mark.skipif(
        keras.backend.backend() != "torch", reason="Keras runs on its torch backend"
    ),
    # keras's torch backend converts tensors with np.array(x, copy=False) (numpy 2 deprecation)
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning"),
]

TOL = 1e-5
I, H = 3, 4

LAYERS: dict[str, Any] = {
    "lstm": lambda: keras.layers.LSTM(H),
    "lstm_hard_sigmoid_relu": lambda: keras.layers.LSTM(
        H, recurrent_activation="hard_sigmoid", activation="relu"
    ),
    "lstm_linear_nobias": lambda: keras.layers.LSTM(H, activation="linear", use_bias=False),
    "gru": lambda: keras.layers.GRU(H),
    "gru_reset_before": lambda: keras.layers.GRU(H, reset_after=False),
    "gru_hard_sigmoid_softsign": lambda: keras.layers.GRU(
        H, recurrent_activation="hard_sigmoid", activation="softsign"
    ),
    "gru_nobias": lambda: keras.layers.GRU(H, use_bias=False),
    "gru_before_nobias": lambda: keras.layers.GRU(H, reset_after=False, use_bias=False),
    "simple_rnn": lambda: keras.layers.SimpleRNN(H),
    "simple_rnn_relu": lambda: keras.layers.SimpleRNN(H, activation="relu"),
}


def _random_layer(make: Any, bidirectional: bool, seed: int = 0) -> Any:
    layer = make()
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    layer.build((None, None, I))
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(size=w.shape).astype(np.float32) * 0.6 for w in layer.get_weights()]
    )
    return layer


def _keras_out(layer: Any, x: np.ndarray) -> list[np.ndarray]:
    out = layer(x)
    return [
        keras.ops.convert_to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])
    ]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_round_trip_and_forward(kind: str, bidirectional: bool) -> None:
    layer = _random_layer(LAYERS[kind], bidirectional)
    m = from_keras(layer).eval()
    x = np.random.default_rng(1).normal(size=(2, 6, I)).astype(np.float32)
    with torch.no_grad():
        out, _ = m(torch.from_numpy(x))
    (want,) = _keras_out(layer, x)  # return_sequences=False: the last step
    last = out[:, -1].numpy() if not bidirectional else None
    if bidirectional:  # Keras: forward's last step, backward's step at t=0 (its last)
        last = np.concatenate([out[:, -1, :H].numpy(), out[:, 0, H:].numpy()], axis=1)
    np.testing.assert_allclose(last, want, atol=TOL, rtol=0)

    back = to_keras(m)
    assert all(
        a.dtype == b.dtype and np.array_equal(a, b)
        for a, b in zip(layer.get_weights(), back.get_weights(), strict=True)
    )
    got = _keras_out(back, x)  # return_sequences and return_state
    np.testing.assert_allclose(got[0], out.numpy(), atol=TOL, rtol=0)


def test_states_agree() -> None:
    layer = _random_layer(lambda: keras.layers.LSTM(H, return_state=True), False)
    m = from_keras(layer).eval()
    x = np.random.default_rng(2).normal(size=(2, 5, I)).astype(np.float32)
    _, h, c = _keras_out(layer, x)
    with torch.no_grad():
        _, (h_n, c_n) = m(torch.from_numpy(x))
    np.testing.assert_allclose(h_n[0].numpy(), h, atol=TOL, rtol=0)
    np.testing.assert_allclose(c_n[0].numpy(), c, atol=TOL, rtol=0)


def _model(tmp_path: Path) -> Any:
    model = keras.Sequential(
        [
            keras.Input((None, I)),
            keras.layers.LSTM(
                H, return_sequences=True, recurrent_activation="hard_sigmoid", name="enc"
            ),
            keras.layers.Bidirectional(
                keras.layers.GRU(H, reset_after=False, return_sequences=True)
            ),
            keras.layers.SimpleRNN(2, name="top"),
            keras.layers.Dense(1),
        ]
    )
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_read_files_without_keras(tmp_path: Path, suffix: str) -> None:
    model = _model(tmp_path)
    path = tmp_path / f"m{suffix}"
    model.save(path)
    for k, live in enumerate(model.layers[:3]):
        from_file, from_live = from_keras(path, layer=k), from_keras(live)
        a, b = from_file.state_dict(), from_live.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)
    assert describe(from_keras(path, layer="enc")).activations["recurrent_activation"] == (
        "hard_sigmoid_keras3"
    )
    assert describe(from_keras(path, layer="top")).hidden_size == 2
    with pytest.raises(UserError, match="3 recurrent layers"):
        from_keras(path)
    with pytest.raises(UserError, match="layer='nope'"):
        from_keras(path, layer="nope")


def test_keras2_file_means_slope_0_2(tmp_path: Path) -> None:
    """A legacy .h5 written by Keras 2 says "hard_sigmoid" and means 0.2x + 0.5."""
    model = keras.Sequential(
        [keras.Input((None, I)), keras.layers.LSTM(H, recurrent_activation="hard_sigmoid")]
    )
    path = tmp_path / "old.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "2.15.0"
    assert describe(from_keras(path)).activations["recurrent_activation"] == "hard_sigmoid_keras2"

    # a GRU from before Keras 2.1.3 has no reset_after in its config: the v1 form (False)
    gru = keras.Sequential([keras.Input((None, I)), keras.layers.GRU(H, reset_after=False)])
    path = tmp_path / "old_gru.h5"
    gru.save(path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        del cfg["config"]["layers"][-1]["config"]["reset_after"]
        f.attrs["model_config"] = json.dumps(cfg)
        f.attrs["keras_version"] = "2.1.2"
    m = from_keras(path)
    assert describe(m).options["reset_after"] is False
    x = np.random.default_rng(5).normal(size=(2, 4, I)).astype(np.float32)
    with torch.no_grad():
        out, _ = m(torch.from_numpy(x))
    np.testing.assert_allclose(out[:, -1].numpy(), _keras_out(gru, x)[0], atol=TOL, rtol=0)


def test_bad_files_and_layers(tmp_path: Path) -> None:
    model = _model(tmp_path)
    good = tmp_path / "m.keras"
    model.save(good)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(good.read_bytes()[:200])
    with pytest.raises(UserError, match=r"broken.keras"):
        from_keras(broken)
    no_weights = tmp_path / "no_weights.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(no_weights, "w") as dst:
        for n in ("config.json", "metadata.json"):
            dst.writestr(n, src.read(n))
    with pytest.raises(UserError, match=r"no_weights.keras"):
        from_keras(no_weights, layer=0)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(UserError, match=r"junk.h5"):
        from_keras(junk)
    with pytest.raises(UserError, match=r"missing.keras"):
        from_keras(tmp_path / "missing.keras")
    odd = tmp_path / "odd.keras"  # a generic keras.layers.RNN wrapper: no rnnkit equivalent
    keras.Sequential([keras.Input((None, I)), keras.layers.RNN(keras.layers.LSTMCell(H))]).save(odd)
    with pytest.raises(UserError, match="type RNN has no rnnkit equivalent"):
        from_keras(odd)
    cfg = json.loads(zipfile.ZipFile(good).read("config.json"))
    assert cfg["class_name"] == "Sequential"
    summed = keras.layers.Bidirectional(keras.layers.GRU(H), merge_mode="sum")
    summed.build((None, None, I))
    with pytest.raises(UserError, match="merge_mode='sum'"):
        from_keras(summed)
    swish = keras.layers.LSTM(H, activation="swish")
    swish.build((None, None, I))
    with pytest.raises(UserError, match=r"activation='(swish|silu)'"):
        from_keras(swish)


@pytest.mark.parametrize(
    ("module", "match"),
    [
        (lambda: rnnkit.LSTM(I, H, peephole=True), "peephole=True"),
        (lambda: rnnkit.LSTM(I, H, coupled=True), "coupled=True"),
        (lambda: rnnkit.LSTM(I, H, proj_size=2), "proj_size=2"),
        (lambda: rnnkit.LSTM(I, H, recurrent_activation="hard_sigmoid_keras2"), "slope 1/6"),
        (lambda: rnnkit.JordanRNN(I, H, 2), "Jordan"),
    ],
)
def test_to_keras_refuses_what_keras_lacks(module: Any, match: str) -> None:
    with pytest.raises(UserError, match=match):
        to_keras(module())


def test_to_keras_stack_and_file(tmp_path: Path) -> None:
    m = rnnkit.GRU(I, H, num_layers=2, bidirectional=True, batch_first=True).eval()
    k = to_keras(m, tmp_path / "stack.keras")
    loaded = keras.saving.load_model(tmp_path / "stack.keras")
    assert all(
        np.array_equal(a, b) for a, b in zip(k.get_weights(), loaded.get_weights(), strict=True)
    )
    first = from_keras(tmp_path / "stack.keras", layer=0)
    assert torch.equal(first.weight_hh_l0_reverse, m.weight_hh_l0_reverse)
    with pytest.raises(UserError, match=r"must end in \.keras"):
        to_keras(m, tmp_path / "stack.h5")
    with pytest.raises(UserError, match="could not write"):
        to_keras(m, tmp_path / "no" / "stack.keras")
    x = np.random.default_rng(4).normal(size=(2, 5, I)).astype(np.float32)
    with torch.no_grad():
        out, _ = m(torch.from_numpy(x))
    np.testing.assert_allclose(_keras_out(k, x)[0], out.numpy(), atol=TOL, rtol=0)
