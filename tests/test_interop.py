"""PyTorch parity: the same weights and inputs give the same outputs and gradients as torch
(float64 to 1e-10, float32 to 1e-5), and state dicts convert both ways exactly.
Skipped when torch is not installed; every test runs once per kernel backend."""

import numpy as np
import pytest

from tinytransformer import Tensor, nn
from tinytransformer.interop import (
    from_torch_mask,
    from_torch_state_dict,
    to_torch_mask,
    to_torch_state_dict,
    torch_reference,
)
from tinytransformer.models import Transformer, TransformerConfig

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("backend")

TOL = {"float64": 1e-10, "float32": 1e-5}  # max abs error, relative to max |value| for gradients
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}


def pair(shape, dtype, seed):
    """The same random values as our Tensor and as a torch leaf tensor, both requiring grad."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)


def backward_both(ours, theirs, seed=99):
    """Send the same random upstream gradient into both graphs."""
    g = np.random.default_rng(seed).standard_normal(ours.shape).astype(ours.dtype)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))


def assert_close(ours, theirs, dtype, what, relative=False):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    err = np.abs(np.asarray(ours) - theirs).max()
    scale = max(np.abs(theirs).max(), 1.0) if relative else 1.0
    assert err / scale <= TOL[dtype], f"{what}: max abs error {err:.2e} (scale {scale:.2e})"


def assert_grads_close(module, torch_module, dtype):
    theirs = from_torch_state_dict({k: p.grad for k, p in torch_module.named_parameters()})
    for name, p in module.named_parameters():
        assert_close(p.grad, theirs[name], dtype, f"grad of {name}", relative=True)


DTYPES = ["float64", "float32"]


# -- attention ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_function_matches_torch(dtype):
    (q, tq), (k, tk), (v, tv) = (pair((2, 3, 4, 5), dtype, s) for s in range(3))
    mask = np.ones((2, 1, 4, 4), bool)
    mask[0, :, :, 2:] = False
    out, _ = nn.scaled_dot_product_attention(q, k, v, mask)
    # torch's *functional* attention reads a boolean mask as we do: True = may attend
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, torch.from_numpy(mask))
    assert_close(out.data, ref, dtype, "attention")
    backward_both(out, ref)
    for ours, theirs in ((q, tq), (k, tk), (v, tv)):
        assert_close(ours.grad, theirs.grad, dtype, "attention grad", relative=True)


def torch_mha(mha, dtype):
    ref = torch.nn.MultiheadAttention(mha.d_model, mha.num_heads, batch_first=True)
    ref = ref.to(TORCH_DTYPE[dtype])
    ref.load_state_dict(to_torch_state_dict(mha))
    return ref


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["self", "cross"])
def test_multihead_attention_matches_torch(kind, dtype):
    mha = nn.MultiHeadAttention(12, 3).to(dtype)
    ref = torch_mha(mha, dtype)
    (x, tx), (m, tm) = pair((2, 5, 12), dtype, 0), pair((2, 6, 12), dtype, 1)
    kpm = np.ones((2, 6 if kind == "cross" else 5), bool)
    kpm[1, 3:] = False
    if kind == "self":
        attn_mask = nn.causal_mask(5)
        out, w = mha(x, x, x, key_padding_mask=kpm, attn_mask=attn_mask, need_weights=True)
        ref_out, ref_w = ref(tx, tx, tx, key_padding_mask=to_torch_mask(kpm),
                             attn_mask=to_torch_mask(attn_mask), average_attn_weights=False)
    else:
        out, w = mha(x, m, m, key_padding_mask=kpm, need_weights=True)
        ref_out, ref_w = ref(tx, tm, tm, key_padding_mask=to_torch_mask(kpm),
                             average_attn_weights=False)
    assert_close(out.data, ref_out, dtype, "MHA output")
    assert_close(w, ref_w, dtype, "MHA weights [B, H, T_q, T_k]")
    backward_both(out, ref_out)
    assert_close(x.grad, tx.grad, dtype, "MHA grad of the query", relative=True)
    if kind == "cross":
        assert_close(m.grad, tm.grad, dtype, "MHA grad of the memory", relative=True)
    assert_grads_close(mha, ref, dtype)


# -- layers ---------------------------------------------------------------------------------------
def layer_pair(cls, dtype, norm_first, activation):
    ours = cls(12, 3, 20, dropout=0.0, activation=activation, norm_first=norm_first).to(dtype)
    torch_cls = {nn.EncoderLayer: torch.nn.TransformerEncoderLayer,
                 nn.DecoderLayer: torch.nn.TransformerDecoderLayer}[cls]
    ref = torch_cls(12, 3, 20, dropout=0.0, activation=activation, batch_first=True,
                    norm_first=norm_first).to(TORCH_DTYPE[dtype])
    ref.load_state_dict(to_torch_state_dict(ours))
    return ours, ref


LAYER_CASES = [(cls, dtype, norm_first, act) for cls in (nn.EncoderLayer, nn.DecoderLayer)
               for dtype in DTYPES for norm_first, act in ((False, "relu"), (True, "gelu"))]


@pytest.mark.parametrize("cls, dtype, norm_first, activation", LAYER_CASES)
def test_layers_match_torch(cls, dtype, norm_first, activation):
    ours, ref = layer_pair(cls, dtype, norm_first, activation)
    (x, tx), (m, tm) = pair((2, 5, 12), dtype, 0), pair((2, 4, 12), dtype, 1)
    pad = np.ones((2, 4), bool)
    pad[0, 2:] = False
    causal = nn.causal_mask(5)
    if cls is nn.EncoderLayer:
        out = ours(x, causal)
        ref_out = ref(tx, src_mask=to_torch_mask(causal))
    else:
        out = ours(x, m, causal, pad[:, None, None, :])
        ref_out = ref(tx, tm, tgt_mask=to_torch_mask(causal),
                      memory_key_padding_mask=to_torch_mask(pad))
    assert_close(out.data, ref_out, dtype, f"{cls.__name__} output")
    backward_both(out, ref_out)
    assert_close(x.grad, tx.grad, dtype, "grad of the input", relative=True)
    assert_grads_close(ours, ref, dtype)


# -- the whole model --------------------------------------------------------------------------
MODEL_CASES = [
    dict(dtype="float64"),
    dict(dtype="float32"),
    dict(dtype="float64", norm_first=True, tie_embeddings=True, positional="learned"),
    dict(dtype="float32", norm_first=True, activation="gelu"),
]


def model_pair(**kw):
    config = TransformerConfig(20, 30, d_model=16, num_heads=2, d_ff=32, dropout=0.1, **kw)
    model, ref = Transformer(config).eval(), torch_reference(config).eval()  # eval: no dropout
    ref.load_state_dict(to_torch_state_dict(model))
    return model, ref


@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_whole_model_matches_torch(case):
    model, ref = model_pair(**case)
    rng = np.random.default_rng(0)
    src, tgt = rng.integers(1, 20, (3, 7)), rng.integers(1, 30, (3, 6))
    src[0, 5:], tgt[1, 4:] = 0, 0  # padding
    out = model(src, tgt)
    ref_out = ref(torch.from_numpy(src), torch.from_numpy(tgt))
    assert_close(out.data, ref_out, case["dtype"], "model logits")
    backward_both(out, ref_out)
    assert_grads_close(model, ref, case["dtype"])


# -- conversions ----------------------------------------------------------------------------------
def test_state_dicts_round_trip_exactly_both_ways():
    model, ref = model_pair(dtype="float32", positional="learned")
    ours = model.state_dict()
    back = from_torch_state_dict(to_torch_state_dict(model))
    assert list(back) == list(ours) and all(np.array_equal(back[k], ours[k]) for k in ours)
    theirs = ref.state_dict()
    again = to_torch_state_dict(_loaded(model, from_torch_state_dict(theirs)))
    assert set(again) == set(theirs) and all(torch.equal(again[k], theirs[k]) for k in theirs)
    assert "transformer.decoder.layers.1.multihead_attn.in_proj_weight" in again


def _loaded(model, state):
    model.load_state_dict(state)  # strict: every name must match
    return model


def test_masks_flip_between_conventions():
    ours = nn.causal_mask(3)
    theirs = to_torch_mask(ours)
    assert theirs.dtype == torch.bool and bool(theirs[0, 1]) and not bool(theirs[1, 0])
    np.testing.assert_array_equal(from_torch_mask(theirs), ours)
