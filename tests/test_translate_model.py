"""The encoder-decoder: masks, padding, loss sums, gradients, decoding's batch independence."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.decoding import beam_search, greedy_decode, translate_ids
from rnnkit.errors import UserError
from rnnkit.models.seq2seq import Seq2Seq, make_attention, seq2seq_loss

PAD, BOS, EOS = 0, 2, 3
ATTN = ["bahdanau", "luong-dot", "luong-general", "none"]

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def make_model(attention: str, *, cell: str = "lstm", bidir: bool = True, feed: bool = True,
               E: int = 6, H: int = 8, V: int = 12, layers: int = 2,
               dtype: torch.dtype = torch.float32) -> Seq2Seq:  # fmt: skip
    enc_h = H // 2 if bidir else H
    kinds = {"lstm": rnnkit.LSTM, "gru": rnnkit.GRU, "rnn": rnnkit.RNN}
    enc = kinds[cell](E, enc_h, bidirectional=bidir, batch_first=True, num_layers=layers)
    dec = kinds[cell](E + (H if feed else 0), H)
    m = Seq2Seq(enc, dec, V, V, attention=make_attention(attention, H, H), input_feeding=feed,
                src_pad=PAD, tgt_pad=PAD)  # fmt: skip
    return m.to(dtype)


def batch(seed: int = 0, B: int = 4, V: int = 12) -> tuple[torch.Tensor, ...]:
    """Padded ``src, src_len, tgt_in (<s> y), tgt_out (y </s>)`` with lengths 5,2,4,1 / 3,6,1,4."""
    g = torch.Generator().manual_seed(seed)
    src_len, tgt_len = [5, 2, 4, 1][:B], [3, 6, 1, 4][:B]
    src = torch.full((B, max(src_len)), PAD)
    tin = torch.full((B, max(tgt_len) + 1), PAD)
    tout = tin.clone()
    for r in range(B):
        src[r, : src_len[r]] = torch.randint(4, V, (src_len[r],), generator=g)
        y = torch.randint(4, V, (tgt_len[r],), generator=g)
        tin[r, 0], tin[r, 1 : tgt_len[r] + 1] = BOS, y
        tout[r, : tgt_len[r]], tout[r, tgt_len[r]] = y, EOS
    return src, torch.tensor(src_len), tin, tout


@pytest.mark.parametrize("attention", ATTN[:3])
def test_attention_sums_to_one_on_valid_steps_and_zero_on_padding(attention: str) -> None:
    torch.manual_seed(0)
    model = make_model(attention).eval()
    src, src_len, tin, _ = batch()
    _, attn = model(src, src_len, tin)
    assert attn is not None
    for r in range(src.shape[0]):
        n = int(src_len[r])
        torch.testing.assert_close(attn[r, :, :n].sum(-1), torch.ones(attn.shape[1]))
        assert attn[r, :, n:].abs().sum().item() == 0.0


@pytest.mark.parametrize("attention", ATTN)
def test_padding_never_changes_valid_outputs(attention: str) -> None:
    torch.manual_seed(1)
    model = make_model(attention).eval()
    src, src_len, tin, tout = batch()
    logits, _ = model(src, src_len, tin)
    src2, tin2 = src.clone(), tin.clone()
    for r in range(src.shape[0]):  # other symbols in the padding
        src2[r, src_len[r] :] = 7
        tin2[r][tout[r] == PAD] = 9
    logits2, _ = model(src2, src_len, tin2)
    valid = tout != PAD
    torch.testing.assert_close(logits[valid], logits2[valid])


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_loss_of_padded_batch_is_sum_of_sentence_losses(attention: str) -> None:
    torch.manual_seed(2)
    model = make_model(attention, dtype=torch.float64).eval()
    src, src_len, tin, tout = batch()
    total, n = seq2seq_loss(model(src, src_len, tin)[0], tout, PAD)
    parts, count = torch.zeros((), dtype=torch.float64), 0
    for r in range(src.shape[0]):
        S, T = int(src_len[r]), int((tout[r] != PAD).sum())
        lo, k = seq2seq_loss(model(src[r : r + 1, :S], src_len[r : r + 1], tin[r : r + 1, :T])[0],
                             tout[r : r + 1, :T], PAD)  # fmt: skip
        parts, count = parts + lo, count + k
    assert n == count == int((tout != PAD).sum())
    torch.testing.assert_close(total, parts)


@pytest.mark.parametrize("attention", ["bahdanau", "luong-general"])
def test_gradcheck_float64_tiny_model(attention: str) -> None:
    torch.manual_seed(3)
    model = make_model(attention, cell="gru", E=3, H=4, V=6, layers=1, dtype=torch.float64)
    src, src_len, tin, tout = batch(B=2, V=6)
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())

    def f(*ps: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(model, dict(zip(names, ps, strict=True)),
                                         (src, src_len, tin))  # fmt: skip
        return seq2seq_loss(out[0], tout, PAD)[0]

    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-5, fast_mode=True)


def test_scheduled_sampling_changes_inputs_only_when_asked() -> None:
    torch.manual_seed(4)
    model = make_model("bahdanau").eval()
    src, src_len, tin, _ = batch()
    ref = model(src, src_len, tin)[0]
    torch.testing.assert_close(model(src, src_len, tin, sampling_prob=0.0)[0], ref)
    assert not torch.allclose(model(src, src_len, tin, sampling_prob=1.0)[0], ref)


def test_decoder_shape_errors() -> None:
    with pytest.raises(ValueError, match="unidirectional"):
        Seq2Seq(rnnkit.GRU(4, 4), rnnkit.GRU(8, 4, bidirectional=True), 5, 5)
    with pytest.raises(ValueError, match="must exceed"):
        Seq2Seq(rnnkit.GRU(4, 4), rnnkit.GRU(4, 4), 5, 5)
    with pytest.raises(ValueError, match="one size"):
        make_attention("luong-dot", 4, 8)


def _sources(n: int, seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lens = torch.randint(1, 9, (n,), generator=g).tolist()
    return [torch.randint(4, 12, (k,), generator=g).tolist() for k in lens]


@pytest.mark.parametrize(("beam", "attention"), [(1, "none"), (3, "luong-general")])
def test_output_does_not_depend_on_batch(beam: int, attention: str) -> None:
    torch.manual_seed(5)
    model = make_model(attention, V=12, layers=1)
    with torch.no_grad():
        model.out.bias[EOS] += 1.0
    srcs = _sources(64, 0)
    kw = {"pad": PAD, "bos": BOS, "eos": EOS, "max_len": 8, "beam": beam, "alpha": 0.6}
    alone = translate_ids(model, srcs, batch_size=1, **kw)
    together = translate_ids(model, srcs, batch_size=64, **kw)
    assert [h.tokens for h in alone] == [h.tokens for h in together]
    assert [h.score for h in alone] == pytest.approx([h.score for h in together], abs=1e-5)


def test_beam_one_is_greedy_and_beam_never_scores_below() -> None:
    torch.manual_seed(6)
    model = make_model("bahdanau").eval()
    with torch.no_grad():
        model.out.bias[EOS] += 2.0  # an untrained model that ends its sentences
    srcs = _sources(32, 1)
    kw = {"pad": PAD, "bos": BOS, "eos": EOS, "max_len": 10}
    greedy = translate_ids(model, srcs, **kw)
    one = translate_ids(model, srcs, beam=1, **kw)
    src, lens = torch.tensor([[5, 6, 7]]), torch.tensor([3])
    g1 = greedy_decode(model, src, lens, bos=BOS, eos=EOS, max_len=10)[0]
    b1 = beam_search(model, src, lens, beam=1, bos=BOS, eos=EOS, max_len=10)[0]
    assert g1.tokens == b1.tokens and g1.score == pytest.approx(b1.score)
    assert [h.tokens for h in greedy] == [h.tokens for h in one]
    five = translate_ids(model, srcs, beam=5, **kw)  # alpha 0: plain log-probabilities
    fin = [(g, b) for g, b in zip(greedy, five, strict=True) if g.finished and b.finished]
    assert fin and all(b.score >= g.score - 1e-9 for g, b in fin)


def test_attention_of_a_translation_covers_its_own_source() -> None:
    torch.manual_seed(7)
    model = make_model("bahdanau").eval()
    src, lens = torch.tensor([[5, 6, 7, 8], [5, 6, PAD, PAD]]), torch.tensor([4, 2])
    for h in beam_search(model, src, lens, beam=2, bos=BOS, eos=EOS, max_len=6):
        assert h.attention is not None
        assert h.attention.shape[0] == len(h.tokens) + h.finished
        torch.testing.assert_close(h.attention.sum(-1), torch.ones(h.attention.shape[0]))


def test_bad_beam_is_a_user_error() -> None:
    with pytest.raises(UserError, match="--beam"):
        translate_ids(make_model("none"), [[4]], pad=PAD, bos=BOS, eos=EOS, max_len=5, beam=0)
