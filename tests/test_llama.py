"""The LLaMA pieces against PyTorch and transformers, in float64: the new ops, RMSNorm, RoPE
(and GGUF's Q/K layout), SwiGLU, grouped-query attention, the KV cache, and a tiny random
`Llama` against `LlamaForCausalLM` with the same weights. Every op and module is also
gradient-checked against finite differences. No big files: the real model is in
test_llama_parity.py."""

import dataclasses

import numpy as np
import pytest

import tinytransformer as tt
from tinytransformer import functional as F
from tinytransformer import nn, ops
from tinytransformer.generate import generate
from tinytransformer.gradcheck import gradcheck
from tinytransformer.models import Llama, LlamaConfig

from .tiny_gguf import write_tiny_gguf

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
hf_llama = pytest.importorskip("transformers.models.llama.modeling_llama")

TOL = 1e-10  # float64, against torch: max abs error (relative to max |value| for gradients)
IDX = np.array([[3, 0, 3], [1, 1, 2], [0, 2, 3]])  # repeated indices: their gradients add up


def tt_and_torch(arrays):
    """Our float64 leaves and torch's, holding the same values."""
    return ([tt.Tensor(a.copy(), requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def assert_close(ours, theirs, what, tol=TOL, relative=False):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    err = np.abs(np.asarray(ours) - theirs).max()
    scale = max(np.abs(theirs).max(), 1.0) if relative else 1.0
    assert err / scale <= tol, f"{what}: max abs error {err:.2e} (scale {scale:.2e})"


def backward_both(out, ref, seed=7):
    """The same random upstream gradient into our graph and torch's."""
    g = np.asarray(np.random.default_rng(seed).standard_normal(out.shape))
    out.backward(g)
    ref.backward(torch.from_numpy(g))


# -- ops: (name, ours, torch, input shapes, inputs: "any" | "ties" | "tails") -----------------
# "ties" rounds the inputs so that equal values and values on a clamp bound occur: there the
# function has a kink, finite differences mean nothing, and only torch's convention is checked.
# "tails": saturated inputs (exp(300) overflows unless avoided), against torch only, for the
# same reason (gradients of 1e-100 next to finite-difference noise).
OPS = [
    ("sigmoid", lambda a: a.sigmoid(), torch.sigmoid, [(3, 4)], "any"),
    ("sigmoid tails", lambda a: (a * 300.0).sigmoid(), lambda a: torch.sigmoid(a * 300.0),
     [(3, 4)], "tails"),
    ("silu", F.silu, torch.nn.functional.silu, [(3, 4)], "any"),
    ("abs", lambda a: a.abs(), torch.abs, [(3, 4)], "any"),
    ("clamp", lambda a: a.clamp(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), [(3, 4)], "any"),
    ("clamp max only", lambda a: a.clamp(max=0.2), lambda a: a.clamp(max=0.2), [(3, 4)], "any"),
    ("clamp on the bounds", lambda a: a.clamp(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5),
     [(4, 5)], "ties"),
    ("maximum", ops.maximum, torch.maximum, [(3, 4), (4,)], "any"),
    ("maximum ties", ops.maximum, torch.maximum, [(4, 5), (4, 5)], "ties"),
    ("minimum", ops.minimum, torch.minimum, [(2, 1, 3), (4, 1)], "any"),
    ("minimum ties", ops.minimum, torch.minimum, [(4, 5), (5,)], "ties"),
    ("min", lambda a: a.min(), torch.min, [(3, 4)], "any"),
    ("min ties", lambda a: a.min(), torch.min, [(4, 5)], "ties"),
    ("min axis", lambda a: a.min(axis=1), lambda a: a.min(dim=1).values, [(3, 4)], "any"),
    ("var", lambda a: a.var(), torch.var, [(3, 4)], "any"),
    ("var axes correction 0", lambda a: a.var(axis=(0, 2), correction=0, keepdims=True),
     lambda a: torch.var(a, dim=(0, 2), correction=0, keepdim=True), [(2, 3, 4)], "any"),
    ("var ddof 2", lambda a: a.var(axis=-1, ddof=2),
     lambda a: torch.var(a, dim=-1, correction=2), [(2, 5)], "any"),
    ("gather", lambda a: a.gather(1, IDX), lambda a: torch.gather(a, 1, torch.from_numpy(IDX)),
     [(3, 4)], "any"),
    ("gather smaller index", lambda a: a.gather(0, IDX[:2, :2] % 3),
     lambda a: torch.gather(a, 0, torch.from_numpy(IDX[:2, :2] % 3)), [(3, 4)], "any"),
    ("take_along_axis", lambda a: ops.take_along_axis(a, IDX[:, :1], -1),
     lambda a: torch.take_along_dim(a, torch.from_numpy(IDX[:, :1]), -1), [(3, 4)], "any"),
    ("rms_norm", lambda x, w: F.rms_norm(x, w, 1e-5),
     lambda x, w: torch.nn.functional.rms_norm(x, (6,), w, 1e-5), [(2, 3, 6), (6,)], "any"),
]


def op_inputs(shapes, kind, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return [np.round(2 * a) / 2 for a in arrays] if kind == "ties" else arrays


@pytest.mark.parametrize("name, ours, theirs, shapes, kind", OPS, ids=[o[0] for o in OPS])
def test_op_matches_torch(name, ours, theirs, shapes, kind):
    (xs, ts) = tt_and_torch(op_inputs(shapes, kind))
    out, ref = ours(*xs), theirs(*ts)
    assert_close(out.data, ref, name, tol=1e-13)
    backward_both(out, ref)
    for x, t in zip(xs, ts):
        assert_close(x.grad, t.grad, f"grad of {name}", relative=True)


@pytest.mark.parametrize("name, ours, theirs, shapes, kind", [o for o in OPS if o[4] == "any"],
                         ids=[o[0] for o in OPS if o[4] == "any"])
def test_op_gradcheck(name, ours, theirs, shapes, kind):
    report = gradcheck(ours, *op_inputs(shapes, kind))
    assert report.passed, report


ERRORS = [
    ("clamp without bounds", lambda: tt.Tensor([1.0]).clamp(), ValueError, "give min, max"),
    ("var two corrections", lambda: tt.Tensor([1.0, 2.0]).var(correction=1, ddof=0),
     ValueError, "give one"),
    ("gather index too big", lambda: tt.Tensor(np.ones((2, 3))).gather(0, np.zeros((2, 4), int)),
     ValueError, r"gather: index \(2, 4\)"),
    ("gather float index", lambda: tt.Tensor(np.ones((2, 3))).gather(0, np.zeros((2, 3))),
     ValueError, "must be integers"),
    ("rms_norm weight", lambda: F.rms_norm(tt.Tensor(np.ones((2, 4))), tt.Tensor(np.ones(3))),
     ValueError, r"rms_norm: input \(2, 4\) needs a weight of shape \(4,\)"),
    ("gqa heads", lambda: nn.GroupedQueryAttention(12, 4, 3), ValueError, "not a multiple"),
    ("rotary odd", lambda: nn.RotaryEmbedding(5), ValueError, "must be even"),
    ("unpermute rows", lambda: nn.unpermute_qk(np.ones((10, 4)), 3), ValueError,
     "do not split into 3 heads"),
    ("config kv heads", lambda: LlamaConfig(num_heads=9, num_kv_heads=2), ValueError,
     "num_heads=9 is not a multiple"),
    ("config dtype", lambda: LlamaConfig(dtype="float16"), ValueError, "dtype must be one of"),
]


@pytest.mark.parametrize("name, thunk, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_teach(name, thunk, error, message):
    with pytest.raises(error, match=message):
        thunk()


# -- modules --------------------------------------------------------------------------------
def hf_config(**overrides):
    """A tiny transformers LlamaConfig: 6 query heads sharing 2 key/value heads, D = 4."""
    kw = dict(vocab_size=50, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
              num_attention_heads=6, num_key_value_heads=2, rms_norm_eps=1e-5,
              rope_theta=1000.0, max_position_embeddings=64, tie_word_embeddings=True,
              attn_implementation="sdpa", bos_token_id=None, eos_token_id=None,
              pad_token_id=None)
    return transformers.LlamaConfig(**{**kw, **overrides})


def ours_config(hf, **overrides):
    return LlamaConfig(vocab_size=hf.vocab_size, d_model=hf.hidden_size, d_ff=hf.intermediate_size,
                       num_layers=hf.num_hidden_layers, num_heads=hf.num_attention_heads,
                       num_kv_heads=hf.num_key_value_heads, rms_eps=hf.rms_norm_eps,
                       rope_theta=hf.rope_parameters["rope_theta"], max_len=64,
                       tie_embeddings=hf.tie_word_embeddings, **overrides)


def randomize(module, seed=0, scale=0.3):
    """Random weights everywhere (RMSNorm's too: ones would hide a missing weight)."""
    rng = np.random.default_rng(seed)
    for _, p in module.named_parameters():
        p.data = (1.0 if p.ndim == 1 else 0.0) + scale * rng.standard_normal(p.shape)
    return module


def load_into_torch(torch_module, state):
    torch_module.double().load_state_dict({k: torch.from_numpy(np.asarray(v))
                                           for k, v in state.items()})
    return torch_module


def rope_cos_sin(T, D, base, offset=0):
    """cos, sin [T, D] in torch float64, written from the formula (theta_i = base^(-2i/D))."""
    inv_freq = 1.0 / base ** (torch.arange(0, D, 2, dtype=torch.float64) / D)
    angles = torch.arange(offset, offset + T, dtype=torch.float64)[:, None] * inv_freq
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def test_rmsnorm_matches_llama_rmsnorm_and_torch():
    norm = randomize(nn.RMSNorm(6, eps=1e-5).double())
    (x,), (tx,) = tt_and_torch([np.random.default_rng(1).standard_normal((2, 3, 6))])
    ref = torch.nn.RMSNorm(6, eps=1e-5).double()
    ref.weight.data = torch.from_numpy(norm.weight.data.copy())
    out = norm(x)
    assert_close(out.data, ref(tx), "RMSNorm vs torch.nn.RMSNorm")
    backward_both(out, ref(tx))
    assert_close(x.grad, tx.grad, "RMSNorm grad", relative=True)
    assert_close(norm.weight.grad, ref.weight.grad, "RMSNorm weight grad", relative=True)
    # transformers' LlamaRMSNorm computes in float32 whatever the input: compare in float32
    hf = hf_llama.LlamaRMSNorm(6, eps=1e-5)
    hf.weight.data = torch.from_numpy(norm.weight.data.astype(np.float32))
    norm.float()
    assert_close(norm(tt.Tensor(x.data.astype(np.float32))).data, hf(tx.float()), "f32", 1e-6)


def test_rotary_tables_match_the_formula_and_transformers():
    rope = nn.RotaryEmbedding(8, base=1000.0)
    for T, offset in ((5, 0), (3, 7)):
        cos, sin = rope(T, offset, np.float64)
        ref_cos, ref_sin = rope_cos_sin(T, 8, 1000.0, offset)
        assert_close(cos.data, ref_cos, "cos", 1e-13)
        assert_close(sin.data, ref_sin, "sin", 1e-13)
    # transformers computes the angles in float32: agreement to float32's precision
    hf = hf_llama.LlamaRotaryEmbedding(hf_config(hidden_size=48))  # head_dim 8
    hf_cos, hf_sin = hf(torch.zeros(1, dtype=torch.float32), torch.arange(7, 10)[None])
    cos, sin = rope(3, 7, np.float32)
    assert_close(cos.data, hf_cos[0], "cos vs LlamaRotaryEmbedding", 1e-6)
    assert_close(sin.data, hf_sin[0], "sin vs LlamaRotaryEmbedding", 1e-6)


def test_apply_rotary_pos_emb_matches_transformers():
    rng = np.random.default_rng(2)
    (q, k), (tq, tk) = tt_and_torch([rng.standard_normal((2, 6, 5, 8)),
                                     rng.standard_normal((2, 2, 5, 8))])
    cos, sin = nn.RotaryEmbedding(8, 1000.0)(5, 3, np.float64)
    ours = nn.apply_rotary_pos_emb(q, k, cos, sin)
    c, s = (torch.from_numpy(t.data)[None] for t in (cos, sin))  # [1, T, D]
    theirs = hf_llama.apply_rotary_pos_emb(tq, tk, c, s)
    for o, t, name in zip(ours, theirs, "qk"):
        assert_close(o.data, t, f"RoPE {name}")
    backward_both(ours[0] * 2.0 + ours[1].sum(axis=1, keepdims=True), theirs[0] * 2.0
                  + theirs[1].sum(dim=1, keepdim=True))
    assert_close(q.grad, tq.grad, "RoPE grad q", relative=True)
    assert_close(k.grad, tk.grad, "RoPE grad k", relative=True)
    report = gradcheck(lambda a, b: nn.apply_rotary_pos_emb(a, b, cos, sin)[0] * 1.5
                       + nn.apply_rotary_pos_emb(a, b, cos, sin)[1][:, :1], q.data, k.data)
    assert report.passed, report


def test_rope_scores_depend_only_on_relative_position():
    rng = np.random.default_rng(3)
    q, k = (tt.Tensor(rng.standard_normal((1, 1, 1, 8))) for _ in range(2))
    rope = nn.RotaryEmbedding(8, 100.0)

    def score(m, n):
        q_m = nn.apply_rotary_pos_emb(q, q, *rope(1, m, np.float64))[0]
        k_n = nn.apply_rotary_pos_emb(k, k, *rope(1, n, np.float64))[1]
        return float((q_m * k_n).sum().data)

    assert abs(score(2, 5) - score(12, 15)) < 1e-12 and abs(score(2, 5) - score(5, 2)) > 1e-3


def interleaved_rope(x, base):
    """Meta's LLaMA RoPE: dims (2i, 2i+1) as one complex number, times e^(i m theta_i)."""
    T, D = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / base ** (torch.arange(0, D, 2, dtype=torch.float64) / D)
    angles = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq  # [T, D/2]
    z = torch.view_as_complex(x.reshape(*x.shape[:-1], D // 2, 2).contiguous())
    return torch.view_as_real(z * torch.polar(torch.ones_like(angles), angles)).flatten(-2)


def test_gguf_qk_layout_with_interleaved_rope_equals_hf_layout_with_rotate_half():
    rng = np.random.default_rng(4)
    H, H_kv, D, C, T = 6, 2, 8, 12, 5
    x = rng.standard_normal((T, C))
    w_q, w_k = rng.standard_normal((H * D, C)), rng.standard_normal((H_kv * D, C))  # HF layout
    g_q, g_k = nn.permute_qk(w_q, H), nn.permute_qk(w_k, H_kv)  # as llama.cpp writes them
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    processor = LlamaTensorProcessor(config={})
    for g, w, n in ((g_q, w_q, H), (g_k, w_k, H_kv)):
        assert np.array_equal(nn.unpermute_qk(g, n), w)
        assert np.array_equal(processor._reverse_permute_weights(g, H, n), w)  # transformers'

    def heads(w, n):  # x W^T as heads [n, T, D]
        return (x @ w.T).reshape(T, n, D).transpose(1, 0, 2)

    # llama.cpp's way: GGUF rows, adjacent pairs rotated
    q_g = interleaved_rope(torch.from_numpy(heads(g_q, H)), 1000.0).numpy()
    k_g = interleaved_rope(torch.from_numpy(heads(g_k, H_kv)), 1000.0).numpy()
    # ours: GGUF rows un-permuted, then rotate-half RoPE
    cos, sin = nn.RotaryEmbedding(D, 1000.0)(T, 0, np.float64)
    q, k = nn.apply_rotary_pos_emb(tt.Tensor(heads(nn.unpermute_qk(g_q, H), H)),
                                   tt.Tensor(heads(nn.unpermute_qk(g_k, H_kv), H_kv)), cos, sin)
    assert_close(q.data, np.concatenate([q_g[..., 0::2], q_g[..., 1::2]], -1), "q dims", 1e-12)
    scores_g = q_g @ np.repeat(k_g, H // H_kv, axis=0).transpose(0, 2, 1)  # [H, T, T]
    scores = q.data @ np.repeat(k.data, H // H_kv, axis=0).transpose(0, 2, 1)
    assert_close(scores, scores_g, "attention scores", 1e-12)


def test_swiglu_matches_llama_mlp():
    mlp = randomize(nn.SwiGLU(24, 40).double())
    ref = load_into_torch(hf_llama.LlamaMLP(hf_config()), mlp.state_dict())
    (x,), (tx,) = tt_and_torch([np.random.default_rng(5).standard_normal((2, 3, 24))])
    out, theirs = mlp(x), ref(tx)
    assert_close(out.data, theirs, "SwiGLU")
    backward_both(out, theirs)
    assert_close(x.grad, tx.grad, "SwiGLU grad x", relative=True)
    for (name, p), (_, t) in zip(mlp.named_parameters(), ref.named_parameters()):
        assert_close(p.grad, t.grad, f"SwiGLU grad {name}", relative=True)


def causal_additive(T):
    return torch.triu(torch.full((T, T), -torch.inf, dtype=torch.float64), 1)[None, None]


@pytest.mark.usefixtures("backend")
def test_grouped_query_attention_matches_llama_attention():
    gqa = randomize(nn.GroupedQueryAttention(24, 6, 2, rope_theta=1000.0).double())
    ref = load_into_torch(hf_llama.LlamaAttention(hf_config(), layer_idx=0), gqa.state_dict())
    (x,), (tx,) = tt_and_torch([np.random.default_rng(6).standard_normal((2, 5, 24))])
    out, weights = gqa(x, need_weights=True)
    cos, sin = rope_cos_sin(5, 4, 1000.0)
    theirs, _ = ref(tx, position_embeddings=(cos[None], sin[None]), attention_mask=None)
    assert_close(out.data, theirs, "GQA")
    backward_both(out, theirs)
    assert_close(x.grad, tx.grad, "GQA grad x", relative=True)
    for (name, p), (_, t) in zip(gqa.named_parameters(), ref.named_parameters()):
        assert_close(p.grad, t.grad, f"GQA grad {name}", relative=True)
    # the maps [B, H, T_q, T_k]: transformers' eager path returns them (softmax in float32)
    ref.config._attn_implementation = "eager"
    _, ref_weights = ref(tx, position_embeddings=(cos[None], sin[None]),
                         attention_mask=causal_additive(5))
    assert weights.shape == (2, 6, 5, 5)
    assert_close(weights, ref_weights, "GQA weights", 1e-6)


MODULES = [("RMSNorm", lambda: nn.RMSNorm(6), (2, 3, 6)),
           ("SwiGLU", lambda: nn.SwiGLU(6, 10), (2, 3, 6)),
           ("GroupedQueryAttention", lambda: nn.GroupedQueryAttention(8, 4, 2, rope_theta=50.0),
            (2, 3, 8))]


@pytest.mark.parametrize("name, make, shape", MODULES, ids=[m[0] for m in MODULES])
def test_module_gradcheck(name, make, shape):
    module = randomize(make().double())
    x = np.random.default_rng(7).standard_normal(shape)
    report = gradcheck(lambda x, *ps: module(x), x, *module.parameters())
    assert report.passed, report


# -- the model ------------------------------------------------------------------------------
def tiny_llama(tie=True, seed=0, **hf_overrides):
    """Our float64 model with random weights, and transformers' config for the same shape."""
    hf = hf_config(tie_word_embeddings=tie, **hf_overrides)
    return randomize(Llama(ours_config(hf, dtype="float64")), seed=seed), hf


@pytest.mark.usefixtures("backend")
def test_kv_cache_decoding_equals_full_forward():
    """Prefill 3 tokens, then decode one at a time past the cache buffer's first size (64)."""
    model, _ = tiny_llama()
    ids = np.random.default_rng(8).integers(0, 50, (2, 70))
    with nn.inference(model):
        full = model(ids).data  # [B, T, V]
        cache = nn.KVCache()
        steps = [model(ids[:, :3], cache=cache).data]
        steps += [model(ids[:, t:t + 1], cache=cache).data for t in range(3, 70)]
    assert cache.offset == 70
    k, _ = cache.entries[model.layers[0].self_attn]  # [B, H_kv, 70, D], a view of a buffer
    assert k.shape == (2, 2, 70, 4) and k.data.base.shape[2] > 70  # grown once, from 64
    assert_close(np.concatenate(steps, axis=1), full, "cached vs full logits", 1e-12)


def test_kv_cache_with_gradients_and_reorder():
    """With gradients on, the cache concatenates (keeping the graph); reorder keeps rows."""
    model, _ = tiny_llama()
    ids = np.random.default_rng(9).integers(0, 50, (2, 6))
    full = model(ids[::-1]).data
    cache = nn.KVCache()
    model(ids[:, :4], cache=cache)
    cache.reorder([1, 0])  # swap the batch rows, as beam search does
    step = model(ids[::-1, 4:5], cache=cache)
    with nn.inference(model):
        last = model(ids[::-1, 5:6], cache=cache).data
    assert step.requires_grad
    assert_close(step.data[:, 0], full[:, 4], "step with gradients", 1e-12)
    assert_close(last[:, 0], full[:, 5], "step after reorder", 1e-12)


@pytest.fixture
def float64_transformers(monkeypatch):
    """transformers computes RMSNorm and the RoPE angles in float32 even in a float64 model;
    for a 1e-10 comparison, the same formulas in float64 (test_unpatched_... below shows that
    the patch changes only precision)."""
    def rms_norm(self, h):
        return self.weight * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True)
                                              + self.variance_epsilon))

    def rotary(self, x, position_ids):
        D = 2 * self.inv_freq.shape[0]
        base = self.config.rope_parameters["rope_theta"]
        angles = position_ids[..., None].double() / base ** (
            torch.arange(0, D, 2, dtype=torch.float64) / D)
        angles = torch.cat([angles, angles], dim=-1)
        return angles.cos().to(x.dtype), angles.sin().to(x.dtype)

    monkeypatch.setattr(hf_llama.LlamaRMSNorm, "forward", rms_norm)
    monkeypatch.setattr(hf_llama.LlamaRotaryEmbedding, "forward", rotary)


def hf_model(model, hf_cfg):
    ref = transformers.LlamaForCausalLM(hf_cfg).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in model.to_hf_state_dict().items()})
    return ref.eval()


@pytest.mark.usefixtures("backend", "float64_transformers")
@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_tiny_llama_matches_transformers(tie):
    model, cfg = tiny_llama(tie)
    ref = hf_model(model, cfg)
    ids = np.random.default_rng(10).integers(0, 50, (2, 7))
    logits = model(ids)
    theirs = ref(torch.from_numpy(ids)).logits
    assert_close(logits.data, theirs, "logits")
    backward_both(logits, theirs)
    grads = {k: p.grad for k, p in ref.named_parameters()}
    for name, p in model.named_parameters():
        assert_close(p.grad, grads[("" if name.startswith("lm_head") else "model.") + name],
                     f"grad of {name}", relative=True)


@pytest.mark.usefixtures("float64_transformers")
def test_greedy_continuation_matches_transformers():
    model, cfg = tiny_llama(seed=1)
    ref = hf_model(model, cfg)
    prompt = np.random.default_rng(11).integers(0, 50, (2, 4))
    ours = generate(model, prompt, max_new_tokens=12, temperature=0)
    with torch.no_grad():
        theirs = ref.generate(torch.from_numpy(prompt), max_new_tokens=12, do_sample=False)
    assert ours == theirs[:, 4:].tolist()


def test_unpatched_transformers_agrees_to_float32_precision():
    model, cfg = tiny_llama()
    ids = np.random.default_rng(12).integers(0, 50, (1, 9))
    theirs = hf_model(model, cfg)(torch.from_numpy(ids)).logits
    assert_close(model(ids).data, theirs, "logits vs float32 RMSNorm and RoPE angles", 1e-5)


def test_hf_state_dict_round_trip():
    model, cfg = tiny_llama(tie=False)
    ref = transformers.LlamaForCausalLM(cfg)
    assert set(model.to_hf_state_dict()) == set(ref.state_dict())
    back = Llama.from_hf_state_dict(ref.double().state_dict(), model.config)
    for name, p in back.named_parameters():
        hf_name = ("" if name.startswith("lm_head") else "model.") + name
        assert np.array_equal(p.data, ref.state_dict()[hf_name].numpy()), name


def test_attention_maps_per_layer():
    model, _ = tiny_llama()
    ids = np.random.default_rng(13).integers(0, 50, (2, 5))
    cache = nn.KVCache()
    with nn.inference(model):
        _, maps = model(ids, cache=cache, need_weights=True)
        _, step = model(ids[:, :1], cache=cache, need_weights=True)
    assert len(maps) == 2 and all(w.shape == (2, 6, 5, 5) for w in maps)
    np.testing.assert_allclose(maps[0].sum(-1), 1.0)
    assert not np.triu(maps[1], k=1).any()  # causal: no weight on the future
    assert all(w.shape == (2, 6, 1, 6) for w in step)  # the new query sees the 5 cached keys


def test_llama_gradcheck():
    model, _ = tiny_llama(num_hidden_layers=1)
    ids = np.random.default_rng(14).integers(0, 50, (1, 4))
    report = gradcheck(lambda *ps: model(ids), *model.parameters(), max_elements=40)
    assert report.passed, report


def tiny_float32_llama(tie=True):
    """The tiny random model in float32, with GGUF's float32 epsilon (the file stores f32)."""
    model, _ = tiny_llama(tie)
    config = dataclasses.replace(model.config, dtype="float32", rms_eps=float(np.float32(1e-5)))
    small = Llama(config)
    small.load_state_dict(model.state_dict())
    return small


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_from_gguf_reads_a_tiny_file(tmp_path, tie):
    model = tiny_float32_llama(tie)
    write_tiny_gguf(tmp_path / "tiny.gguf", model)
    loaded = Llama.from_gguf(tmp_path / "tiny.gguf")
    assert loaded.config == model.config
    for (name, p), (_, q) in zip(model.named_parameters(), loaded.named_parameters()):
        assert np.array_equal(p.data, q.data), name  # W_q, W_k: un-permuted exactly
    ids = np.random.default_rng(15).integers(0, 50, (1, 6))
    assert np.array_equal(model(ids).data, loaded(ids).data)


def test_from_gguf_refuses_what_it_would_misread(tmp_path):
    model = tiny_float32_llama()
    write_tiny_gguf(tmp_path / "rope_freqs.gguf", model, extra_tensor="rope_freqs.weight")
    with pytest.raises(ValueError, match="tensors this model does not use: rope_freqs.weight"):
        Llama.from_gguf(tmp_path / "rope_freqs.gguf")
    from tinytransformer.models.llama import gguf_config

    with pytest.raises(ValueError, match="architecture is 'gpt2'"):
        gguf_config({"general.architecture": "gpt2"}, {})
