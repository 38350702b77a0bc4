"""ONNX export checked against onnxruntime: every family and variant, over a grid of layers,
directions, layouts, lengths (with a zero-length row) and initial states. The oracle is the rnnkit
layer itself; ``onnx.reference`` is not used (it ignores activations, clip and input_forget)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import UserError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rnnkit.interop import to_onnx  # noqa: E402

TOL = 1e-5
T, B, I, H = 5, 3, 3, 4
LENGTHS = [5, 0, 2]  # unsorted, with a zero-length row

VARIANTS: dict[str, Any] = {
    "lstm": lambda **k: rnnkit.LSTM(I, H, **k),
    "lstm_peephole": lambda **k: rnnkit.LSTM(I, H, peephole=True, **k),
    "lstm_cifg": lambda **k: rnnkit.LSTM(I, H, coupled=True, **k),
    "lstm_cifg_peephole_hs3": lambda **k: rnnkit.LSTM(
        I, H, coupled=True, peephole=True, recurrent_activation="hard_sigmoid_keras3", **k
    ),
    "lstm_proj": lambda **k: rnnkit.LSTM(I, H, proj_size=2, **k),
    "lstm_proj_cifg_peephole": lambda **k: rnnkit.LSTM(
        I, H, proj_size=3, coupled=True, peephole=True, **k
    ),
    "lstm_hs2_softsign": lambda **k: rnnkit.LSTM(
        I, H, recurrent_activation="hard_sigmoid_keras2", activation="softsign", **k
    ),
    "lstm_hs3_relu": lambda **k: rnnkit.LSTM(
        I, H, recurrent_activation="hard_sigmoid_keras3", activation="relu", **k
    ),
    "lstm_identity_nobias": lambda **k: rnnkit.LSTM(I, H, activation="identity", bias=False, **k),
    "lstm_hs2_identity": lambda **k: rnnkit.LSTM(  # different alpha/beta in one node
        I, H, recurrent_activation="hard_sigmoid_keras2", activation="identity", **k
    ),
    "lstm_cifg_softsign_scan": lambda **k: rnnkit.LSTM(
        I, H, coupled=True, peephole=True, recurrent_activation="softsign", **k
    ),
    "gru": lambda **k: rnnkit.GRU(I, H, **k),
    "gru_reset_before": lambda **k: rnnkit.GRU(I, H, reset_after=False, **k),
    "gru_hs3_nobias": lambda **k: rnnkit.GRU(
        I, H, recurrent_activation="hard_sigmoid_keras3", bias=False, **k
    ),
    "gru_before_hs2_softsign": lambda **k: rnnkit.GRU(
        I,
        H,
        reset_after=False,
        recurrent_activation="hard_sigmoid_keras2",
        activation="softsign",
        **k,
    ),
    "gru_hs3_identity": lambda **k: rnnkit.GRU(
        I, H, recurrent_activation="hard_sigmoid_keras3", activation="identity", **k
    ),
    "rnn_tanh": lambda **k: rnnkit.RNN(I, H, **k),
    "rnn_relu": lambda **k: rnnkit.RNN(I, H, nonlinearity="relu", **k),
    "rnn_softsign_nobias": lambda **k: rnnkit.RNN(I, H, nonlinearity="softsign", bias=False, **k),
    "jordan": lambda **k: rnnkit.JordanRNN(I, H, 2, **k),
    "jordan_all": lambda **k: rnnkit.JordanRNN(
        I, H, 2, hidden_to_hidden=True, output_to_output=True, output_activation="sigmoid", **k
    ),
    "jordan_elman_nobias": lambda **k: rnnkit.JordanRNN(
        I, H, 3, hidden_to_hidden=True, output_to_hidden=False, activation="relu", bias=False, **k
    ),
}

# layers x directions x lengths x initial state; batch_first alternates so both appear per variant
GRID = [
    (L, bi, lens, init, (L + bi + lens + init) % 2 == 1)
    for L, bi, lens, init in itertools.product([1, 2], [False, True], [False, True], [False, True])
]


def _session(model: Any) -> Any:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _randomize(m: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.6)


def _compare(
    m: Any, lengths: list[int] | None, initial_state: bool, seed: int = 0, opset: int = 17
) -> float:
    """Max |onnxruntime - rnnkit| over the output and every final state entry, divided by
    max(1, max |value|): float32 rounding grows with the values, which unbounded activations
    (identity, ReLU) let grow past 1."""
    m.eval()
    g = torch.Generator().manual_seed(seed + 1)
    shape = (B, T, m.input_size) if m.batch_first else (T, B, m.input_size)
    x = torch.randn(shape, generator=g)
    model = to_onnx(m, lengths=lengths is not None, initial_state=initial_state, opset=opset)
    assert model.opset_import[0].version == opset
    feeds = {"input": x.numpy()}
    if lengths is not None:
        feeds["lengths"] = np.array(lengths, dtype=np.int64)
    hx = None
    if initial_state:
        ins = [i for i in model.graph.input if i.name.endswith("_0")]
        dims = [[d.dim_value or B for d in i.type.tensor_type.shape.dim] for i in ins]
        states = [torch.randn(d, generator=g) for d in dims]
        feeds |= {i.name: s.numpy() for i, s in zip(ins, states, strict=True)}
        hx = states[0] if len(states) == 1 else tuple(states)
    got = _session(model).run(None, feeds)
    with torch.no_grad():
        out, h_n = m(x, hx, lengths=None if lengths is None else torch.tensor(lengths))
    want = [out, *(h_n if isinstance(h_n, tuple) else (h_n,))]
    assert [a.shape for a in got] == [tuple(w.shape) for w in want]
    return max(
        float(np.abs(a - w.numpy()).max()) / max(1.0, float(w.abs().max()))
        for a, w in zip(got, want, strict=True)
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_layer_grid_matches_onnxruntime(variant: str) -> None:
    worst = 0.0
    for k, (L, bi, lens, init, bf) in enumerate(GRID):
        m = VARIANTS[variant](num_layers=L, bidirectional=bi, batch_first=bf)
        _randomize(m, k)
        err = _compare(m, LENGTHS if lens else None, init, seed=k)
        assert err <= TOL, (variant, L, bi, lens, init, bf, err)
        worst = max(worst, err)
    print(f"{variant}: max |ort - rnnkit| / max(1, |value|) = {worst:.2e}")


def test_learned_initial_state_is_exported() -> None:
    m = rnnkit.LSTM(I, H, num_layers=2, peephole=True, learn_init=True)
    _randomize(m, 3)  # h0, c0 non-zero
    assert _compare(m, LENGTHS, False) <= TOL


@pytest.mark.parametrize(
    "cell",
    [
        lambda: rnnkit.LSTMCell(I, H),
        lambda: rnnkit.LSTMCell(I, H, coupled=True, peephole=True),
        lambda: rnnkit.GRUCell(I, H, reset_after=False),
        lambda: rnnkit.RNNCell(I, H, nonlinearity="relu"),
        lambda: rnnkit.JordanCell(I, H, 2, output_to_output=True),
    ],
)
def test_cell_module_step(cell: Any) -> None:
    m = cell()
    _randomize(m, 5)
    model = to_onnx(m)
    ins = [i.name for i in model.graph.input]
    x = torch.randn(B, I)
    states = [
        torch.randn(B, d.type.tensor_type.shape.dim[1].dim_value) for d in model.graph.input[1:]
    ]
    got = _session(model).run(
        None, {"input": x.numpy()} | {n: s.numpy() for n, s in zip(ins[1:], states, strict=True)}
    )
    with torch.no_grad():
        want = m(x, states[0] if len(states) == 1 else tuple(states))
    want = want if isinstance(want, tuple) else (want,)
    for a, w in zip(got, want, strict=True):
        np.testing.assert_allclose(a, w.numpy(), atol=TOL, rtol=0)


def test_onnxruntime_zero_length_rows_give_zero_state() -> None:
    """What a bare ONNX LSTM node returns for a zero-length row: zeros, not ``initial_h``. (So the
    exporter restores the initial state with ``Where``; see docs/INTEROP.md.)"""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    arrays = {
        "W": rng.normal(size=(1, 4 * H, I)),
        "R": rng.normal(size=(1, 4 * H, H)),
        "len": np.array([T, 0], dtype=np.int32),
    }
    inits = [
        numpy_helper.from_array(a.astype(np.int32 if k == "len" else np.float32), k)
        for k, a in arrays.items()
    ]
    node = helper.make_node("LSTM", ["x", "W", "R", "", "len", "h0"], ["Y", "Y_h"], hidden_size=H)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [T, 2, I]),
            helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, 2, H]),
        ],
        [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, 2, H])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    h0 = np.ones((1, 2, H), dtype=np.float32)
    (y_h,) = _session(model).run(None, {"x": np.ones((T, 2, I), np.float32), "h0": h0})
    assert np.all(y_h[0, 1] == 0.0)  # not h0
    assert np.any(y_h[0, 0] != 0.0)


def test_write_file_and_bad_inputs(tmp_path: Any) -> None:
    path = tmp_path / "gru.onnx"
    to_onnx(rnnkit.GRU(I, H), path)
    assert onnx.load(str(path)).graph.node
    with pytest.raises(UserError, match="could not write"):
        to_onnx(rnnkit.GRU(I, H), tmp_path / "missing" / "x.onnx")

    def double(t: torch.Tensor) -> torch.Tensor:
        return t * 2

    with pytest.raises(UserError, match="activation='double'"):
        to_onnx(rnnkit.LSTM(I, H, activation=double))  # a Python callable
    with pytest.raises(UserError, match="opset=9"):
        to_onnx(rnnkit.LSTM(I, H), opset=9)
    with pytest.raises(UserError, match="cannot export a Linear"):
        to_onnx(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("opset", [14, 22])
def test_opsets(opset: int) -> None:
    m = rnnkit.GRU(I, H, reset_after=False, bidirectional=True, num_layers=2)
    assert _compare(m, LENGTHS, True, opset=opset) <= TOL


@pytest.mark.parametrize(
    "make",
    [
        lambda: rnnkit.LSTM(I, H, num_layers=2, bidirectional=True, peephole=True),
        lambda: rnnkit.JordanRNN(I, H, 2, bidirectional=True),
    ],
)
def test_one_graph_any_batch_and_time(make: Any) -> None:
    """Batch and time are dynamic: one exported graph serves every size, all-empty rows too."""
    m = make().eval()
    _randomize(m, 7)
    sess = _session(to_onnx(m, lengths=True, initial_state=True))
    ins = [i.name for i in sess.get_inputs()]
    for T_, lens in [(1, [1]), (7, [7, 3, 0, 7, 1]), (3, [0, 0])]:
        B_ = len(lens)
        x = torch.randn(T_, B_, I)
        states = [torch.randn(m.num_layers * 2, B_, s) for s in describe_sizes(m)]
        feeds = {"input": x.numpy(), "lengths": np.array(lens, dtype=np.int64)}
        feeds |= {n: s.numpy() for n, s in zip(ins[2:], states, strict=True)}
        got = sess.run(None, feeds)
        with torch.no_grad():
            out, h_n = m(x, tuple(states), lengths=torch.tensor(lens))
        for a, w in zip(got, [out, *h_n], strict=True):
            np.testing.assert_allclose(a, w.numpy(), atol=TOL, rtol=0)


def describe_sizes(m: Any) -> tuple[int, ...]:
    from rnnkit.interop.spec import describe

    return describe(m).state_sizes


def test_task_models_through_to_onnx() -> None:
    """``to_onnx`` takes a task model too (the whole-run exporter's building block)."""
    from rnnkit.models import LanguageModel, SequenceClassifier

    lm = LanguageModel(7, rnnkit.GRU(4, H, reset_after=False), embed=4).eval()
    ids = torch.randint(0, 7, (5, 2))
    got = _session(to_onnx(lm)).run(None, {"symbols": ids.numpy()})
    with torch.no_grad():
        logits, h_n = lm(ids)
    for a, w in zip(got, [logits, h_n], strict=True):
        np.testing.assert_allclose(a, w.numpy(), atol=TOL, rtol=0)
    clf = SequenceClassifier(rnnkit.LSTM(I, H, bidirectional=True, batch_first=True), 3)
    clf.eval()
    x, lens = torch.randn(4, 6, I), torch.tensor([6, 0, 2, 5])
    x[torch.arange(6)[None, :] >= lens[:, None]] = 0.0
    (got_c,) = _session(to_onnx(clf)).run(None, {"input": x.numpy(), "lengths": lens.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got_c, clf(x, lens).numpy(), atol=TOL, rtol=0)
