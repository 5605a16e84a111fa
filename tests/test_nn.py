"""nn: Module bookkeeping, the layers, masks, multi-head attention (gradients, masks, cache),
and the encoder/decoder layers. Every test runs once per kernel backend."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinytransformer.functional as F
from tinytransformer import Tensor, nn, no_grad
from tinytransformer.gradcheck import gradcheck

pytestmark = pytest.mark.usefixtures("backend")

RNG = np.random.default_rng(0)


def randn(*shape, dtype=np.float64):
    return Tensor(RNG.standard_normal(shape).astype(dtype))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4, rng=np.random.default_rng(0))
        self.layers = nn.ModuleList([nn.LayerNorm(4), nn.Linear(4, 2, bias=False)])
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.layers[1](self.layers[0](self.drop(self.first(x))))


# -- Module ---------------------------------------------------------------------------------------
def test_named_parameters_are_dotted_and_ordered():
    names = [n for n, _ in Tiny().named_parameters()]
    assert names == ["first.weight", "first.bias", "layers.0.weight", "layers.0.bias",
                     "layers.1.weight"]
    assert Tiny().num_parameters() == 3 * 4 + 4 + 4 + 4 + 4 * 2


def test_train_eval_reaches_every_module():
    m = Tiny().eval()
    assert not any(x.training for x in m.modules())
    assert all(x.training for x in m.train().modules())


def test_zero_grad_and_state_dict_copies():
    m = Tiny().eval()
    m(randn(2, 3, dtype=np.float32)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    sd = m.state_dict()
    sd["first.weight"][...] = 7.0
    assert not np.any(m.first.weight.data == 7.0)


def test_load_state_dict_round_trip_keeps_parameter_objects():
    a, b = Tiny(), Tiny()
    for p in b.parameters():
        p.data = p.data + 1.0
    before = b.parameters()
    b.load_state_dict(a.state_dict())
    assert all(x is y for x, y in zip(before, b.parameters()))
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_names_every_problem_in_one_message():
    m = Tiny()
    sd = m.state_dict()
    del sd["layers.0.bias"]
    sd["extra.weight"] = np.zeros(2)
    sd["first.weight"] = np.zeros((5, 5))
    with pytest.raises(ValueError) as e:
        m.load_state_dict(sd)
    message = str(e.value)
    for what in ("missing: layers.0.bias", "unexpected: extra.weight", "mis-shaped: first.weight",
                 "(4, 3)", "(5, 5)"):
        assert what in message
    sd["first.weight"] = np.zeros((4, 3))
    m.load_state_dict(sd, strict=False)  # missing and unexpected tolerated, shapes still checked
    assert np.all(m.first.weight.data == 0)


def test_to_double_converts_every_parameter():
    m = Tiny().double()
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m(randn(2, 3)).dtype == np.float64
    assert all(p.dtype == np.float32 for p in m.float().parameters())


def test_repr_is_nested_and_collapses_repeats():
    text = repr(nn.Encoder(3, 8, 2, 16))
    assert "(layers): ModuleList(" in text and "(0-2): 3 x EncoderLayer(" in text
    assert "(in_proj): Linear(8, 24, bias=True)" in text


def test_assigning_before_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Broken()


# -- layers ---------------------------------------------------------------------------------------
LAYERS = [
    ("linear", lambda: nn.Linear(5, 3), (2, 4, 5)),
    ("linear no bias", lambda: nn.Linear(5, 3, bias=False), (4, 5)),
    ("layer norm", lambda: nn.LayerNorm(5), (2, 3, 5)),
    ("embedding-free MHA", lambda: nn.MultiHeadAttention(6, 2), (2, 3, 6)),
]


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_gradients_float64(name, make, shape):
    layer = make().double()
    if isinstance(layer, nn.LayerNorm):  # non-trivial weight and bias
        layer.weight.data[...] = RNG.uniform(0.5, 2, 5)
        layer.bias.data[...] = RNG.standard_normal(5)

    def f(x, *params):
        return layer(x, x, x) if isinstance(layer, nn.MultiHeadAttention) else layer(x)

    report = gradcheck(f, randn(*shape), *layer.parameters())
    assert report.passed, report


def test_linear_is_x_wT_plus_b():
    layer = nn.Linear(5, 3)
    layer.bias.data[...] = [1.0, 2.0, 3.0]
    x = RNG.standard_normal((2, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ layer.weight.data.T + layer.bias.data,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, bias", [((2, 4, 5), True), ((4, 5), False), ((3, 1, 2, 5), True)])
def test_linear_function_any_leading_axes(shape, bias):
    w, b, x = randn(3, 5), randn(3), randn(*shape)
    out = F.linear(x, w, b if bias else None)
    np.testing.assert_allclose(out.data, x.data @ w.data.T + (b.data if bias else 0), atol=1e-12)
    report = gradcheck(lambda x, w, b: F.linear(x, w, b if bias else None), x, w, b)
    assert report.passed, report
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 2\)"):
        F.linear(randn(4, 2), w)


def test_initialisation_scales():
    w = nn.Linear(200, 300, rng=np.random.default_rng(0)).weight.data
    assert np.abs(w).max() <= math.sqrt(6 / 500) and w.std() == pytest.approx(math.sqrt(2 / 500),
                                                                                rel=0.05)
    e = nn.Embedding(1000, 64, rng=np.random.default_rng(0)).weight.data
    assert e.std() == pytest.approx(64**-0.5, rel=0.05)
    ln = nn.LayerNorm(4)
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0)


def test_dropout_is_seeded_and_off_in_eval():
    x = Tensor(np.ones((50, 40), np.float32))
    a = nn.Dropout(0.3, rng=np.random.default_rng(5))(x).data
    b = nn.Dropout(0.3, rng=np.random.default_rng(5))(x).data
    np.testing.assert_array_equal(a, b)
    assert 0.2 < (a == 0).mean() < 0.4 and np.allclose(a[a > 0], 1 / 0.7)
    assert nn.Dropout(0.3).eval()(x) is x


# -- masks ----------------------------------------------------------------------------------------
def test_causal_mask_is_lower_triangular():
    np.testing.assert_array_equal(nn.causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(nn.causal_mask(1, 4), [[1, 1, 1, 1]])  # a new token, 3 cached
    np.testing.assert_array_equal(nn.causal_mask(2, 3), [[1, 1, 0], [1, 1, 1]])
    assert nn.causal_mask(4).dtype == bool and not nn.causal_mask(4).flags.writeable


def test_padding_mask_shape_and_values():
    m = nn.padding_mask(np.array([[5, 6, 0], [7, 0, 0]]), pad_id=0)
    assert m.shape == (2, 1, 1, 3)
    np.testing.assert_array_equal(m[:, 0, 0], [[1, 1, 0], [1, 0, 0]])


def test_wrongly_shaped_mask_is_refused():
    mha = nn.MultiHeadAttention(8, 2)
    x = randn(2, 5, 8, dtype=np.float32)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\)"):
        mha(x, x, x, attn_mask=nn.causal_mask(4))
    with pytest.raises(TypeError, match="boolean"):
        mha(x, x, x, attn_mask=np.ones((5, 5)))


# -- attention ------------------------------------------------------------------------------------
def per_head_reference(mha, query, key, value, mask):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, one head at a time, in NumPy."""
    C, H, D = mha.d_model, mha.num_heads, mha.head_dim
    w, b = mha.in_proj.weight.data, mha.in_proj.bias.data
    Q = query @ w[:C].T + b[:C]
    K = key @ w[C:2 * C].T + b[C:2 * C]
    V = value @ w[2 * C:].T + b[2 * C:]
    heads = []
    for i in range(H):
        cols = slice(i * D, (i + 1) * D)
        s = Q[..., cols] @ np.swapaxes(K[..., cols], -1, -2) / math.sqrt(D)
        s = np.where(mask[:, 0], s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        heads.append(p / p.sum(-1, keepdims=True) @ V[..., cols])
    return np.concatenate(heads, -1) @ mha.out_proj.weight.data.T + mha.out_proj.bias.data


def mha_inputs(B=2, T=4, S=5, C=6):
    query, memory = randn(B, T, C), randn(B, S, C)
    kpm = np.ones((B, S), bool)
    kpm[0, 3:] = False
    return query, memory, kpm


@pytest.mark.parametrize("kind", ["self causal", "cross padded", "separate k v"])
def test_mha_matches_the_per_head_formula(kind):
    mha = nn.MultiHeadAttention(6, 3).double()
    query, memory, kpm = mha_inputs()
    if kind == "self causal":
        args, mask, kw = (query, query, query), nn.causal_mask(4)[None, None], {
            "attn_mask": nn.causal_mask(4)}
    elif kind == "cross padded":
        args, mask, kw = (query, memory, memory), kpm[:, None, None, :], {"key_padding_mask": kpm}
    else:
        other = randn(2, 5, 6)
        args, mask, kw = (query, memory, other), kpm[:, None, None, :], {"key_padding_mask": kpm}
    out = mha(*args, **kw)
    expected = per_head_reference(mha, *(a.data for a in args), np.broadcast_to(mask, (2, 1, 4,
                                                                                      args[1].shape[1])))
    np.testing.assert_allclose(out.data, expected, atol=1e-12)


@pytest.mark.parametrize("kind", ["self", "cross"])
def test_mha_gradients_with_masks_float64(kind):
    mha = nn.MultiHeadAttention(6, 2).double()
    query, memory, kpm = mha_inputs()

    if kind == "self":
        def f(x, *params):
            return mha(x, x, x, key_padding_mask=kpm[:, :4], attn_mask=nn.causal_mask(4))
        inputs = (query,)
    else:
        def f(x, m, *params):
            return mha(x, m, m, key_padding_mask=kpm)
        inputs = (query, memory)
    report = gradcheck(f, *inputs, *mha.parameters())
    assert report.passed, report


def test_attention_function_gradients_float64():
    q, k, v = randn(2, 2, 3, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 4)
    mask = np.ones((2, 1, 3, 5), bool)
    mask[1, :, :, 3:] = False
    report = gradcheck(lambda q, k, v: nn.scaled_dot_product_attention(q, k, v, mask)[0], q, k, v)
    assert report.passed, report
    assert nn.scaled_dot_product_attention.__doc__.startswith(
        "Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V")


def test_masked_keys_get_exactly_zero_weight_and_rows_sum_to_one():
    mha = nn.MultiHeadAttention(6, 3)
    query, memory, kpm = mha_inputs()
    _, w = mha(query, memory, memory, key_padding_mask=kpm, need_weights=True)
    assert w.shape == (2, 3, 4, 5)
    assert np.all(w[0, :, :, 3:] == 0.0)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)


@given(B=st.integers(1, 3), T_q=st.integers(1, 5), T_k=st.integers(1, 5),
       H=st.sampled_from([1, 2, 4]), seed=st.integers(0, 2**16))
def test_mha_shapes_and_weights_for_any_sizes(B, T_q, T_k, H, seed):
    rng = np.random.default_rng(seed)
    mha = nn.MultiHeadAttention(8, H, rng=rng)
    kpm = rng.random((B, T_k)) < 0.7
    kpm[:, 0] = True  # every query keeps at least one key
    x, m = (Tensor(rng.standard_normal((B, T, 8)).astype(np.float32)) for T in (T_q, T_k))
    out, w = mha(x, m, m, key_padding_mask=kpm, need_weights=True)
    assert out.shape == (B, T_q, 8) and w.shape == (B, H, T_q, T_k)
    assert np.all(w[np.broadcast_to(~kpm[:, None, None, :], w.shape)] == 0.0)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)


def test_heads_must_divide_d_model():
    with pytest.raises(ValueError, match="d_model=10 is not divisible by num_heads=3"):
        nn.MultiHeadAttention(10, 3)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-12)])
def test_mha_cache_gives_the_full_sequence_outputs(dtype, tol):
    mha = nn.MultiHeadAttention(8, 2).to(dtype)
    x, memory = randn(2, 6, 8, dtype=dtype), randn(2, 3, 8, dtype=dtype)
    with no_grad():
        full_self = mha(x, x, x, attn_mask=nn.causal_mask(6)).data
        full_cross = mha(x, memory, memory).data
        self_cache, cross_cache, steps_self, steps_cross = nn.KVCache(), nn.KVCache(), [], []
        for t in range(6):
            xt = x[:, t:t + 1]
            steps_self.append(mha(xt, xt, xt, cache=self_cache).data)
            steps_cross.append(mha(xt, memory, memory, cache=cross_cache).data)
    assert self_cache.entries[mha][0].shape == (2, 2, 6, 4)  # [B, H, T, D]: all six positions
    assert cross_cache.entries[mha][0].shape == (2, 2, 3, 4)  # the memory, computed once
    np.testing.assert_allclose(np.concatenate(steps_self, 1), full_self, atol=tol, rtol=0)
    np.testing.assert_allclose(np.concatenate(steps_cross, 1), full_cross, atol=tol, rtol=0)


def test_cache_reorder_follows_the_surviving_rows():
    mha = nn.MultiHeadAttention(8, 2).double()
    x = randn(3, 4, 8)
    with no_grad():
        cache = nn.KVCache()
        mha(x[:, :3], x[:, :3], x[:, :3], attn_mask=nn.causal_mask(3), cache=cache)
        cache.reorder([2, 2, 0])  # beam search: row 2 survives twice, row 0 once
        last = x[[2, 2, 0], 3:4]
        out = mha(last, last, last, cache=cache).data
        full = mha(x, x, x, attn_mask=nn.causal_mask(4)).data[[2, 2, 0], 3:4]
    np.testing.assert_allclose(out, full, atol=1e-12)


# -- positional encodings and layers -------------------------------------------------------------
def test_sinusoidal_table_follows_the_formula():
    pe = nn.SinusoidalPositionalEncoding(6, max_len=10).pe
    pos, i = 7, 2
    assert pe[pos, 2 * i] == pytest.approx(math.sin(pos / 10000 ** (2 * i / 6)))
    assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos / 10000 ** (2 * i / 6)))
    x = Tensor(np.zeros((1, 3, 6), np.float32))
    np.testing.assert_allclose(nn.SinusoidalPositionalEncoding(6, 10)(x, offset=4).data[0],
                               pe[4:7], rtol=1e-6)
    with pytest.raises(ValueError, match="max_len=10"):
        nn.SinusoidalPositionalEncoding(6, 10)(x, offset=8)


@pytest.mark.parametrize("cls", [nn.EncoderLayer, nn.DecoderLayer])
@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_gradients_float64_no_dropout(cls, norm_first):
    layer = cls(8, 2, 12, dropout=0.0, norm_first=norm_first, activation="gelu").double()
    x, memory, kpm = randn(2, 4, 8), randn(2, 5, 8), np.ones((2, 1, 1, 5), bool)
    kpm[1, ..., 2:] = False
    if cls is nn.EncoderLayer:
        def f(x, *params):
            return layer(x, nn.causal_mask(4))
        inputs = (x,)
    else:
        def f(x, m, *params):
            return layer(x, m, nn.causal_mask(4), kpm)
        inputs = (x, memory)
    report = gradcheck(f, *inputs, *layer.parameters(), max_elements=40)
    assert report.passed, report


@given(st.permutations(range(5)))
def test_encoder_without_positions_is_permutation_equivariant(order):
    encoder = nn.Encoder(2, 8, 2, 16, dropout=0.0, rng=np.random.default_rng(3)).double()
    x = Tensor(np.random.default_rng(4).standard_normal((2, 5, 8)))
    with no_grad():
        out = encoder(x).data
        permuted = encoder(Tensor(x.data[:, list(order)])).data
    np.testing.assert_allclose(permuted, out[:, list(order)], atol=1e-12)


def test_decoder_stack_returns_every_attention_map():
    decoder = nn.Decoder(3, 8, 2, 16, dropout=0.0, norm_first=True)
    assert decoder.norm is not None and nn.Decoder(1, 8, 2, 16).norm is None
    out, maps = decoder(randn(2, 4, 8, dtype=np.float32), randn(2, 6, 8, dtype=np.float32),
                        nn.causal_mask(4), need_weights=True)
    assert out.shape == (2, 4, 8)
    assert [w.shape for w in maps["self"]] == [(2, 2, 4, 4)] * 3
    assert [w.shape for w in maps["cross"]] == [(2, 2, 4, 6)] * 3


def test_dropout_layers_use_the_given_generator():
    def run(seed):
        layer = nn.EncoderLayer(8, 2, 16, dropout=0.5, rng=np.random.default_rng(seed))
        return layer(Tensor(np.ones((2, 3, 8), np.float32))).data

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))
    F.manual_seed(0)  # leave the shared generator as other tests expect
