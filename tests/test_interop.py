"""PyTorch parity: the same weights and inputs give the same outputs and gradients as torch
(float64 to 1e-10, float32 to 1e-5), for the layers, the translator and the language model;
state dicts convert both ways exactly; an exported folder loads as a torch module with the
same logits, and importing it back gives the checkpoint bit for bit. Skipped when torch is not
installed; the numeric comparisons run once per kernel backend."""

import numpy as np
import pytest

from tinytransformer import Tensor, cli, nn
from tinytransformer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinytransformer.data import Vocab
from tinytransformer.interop import (
    export_checkpoint,
    from_torch_mask,
    from_torch_state_dict,
    import_checkpoint,
    load_llama_folder,
    load_torch_model,
    save_llama_folder,
    save_torch_folder,
    to_torch_mask,
    to_torch_state_dict,
    torch_model,
)
from tinytransformer.models import (
    LanguageModel,
    LanguageModelConfig,
    Llama,
    LlamaConfig,
    Transformer,
    TransformerConfig,
)
from tinytransformer.nn import inference
from tinytransformer.optim import AdamW

torch = pytest.importorskip("torch")
on_each_backend = pytest.mark.usefixtures("backend")  # what computes: once per kernel backend

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
@on_each_backend
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


@on_each_backend
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


@on_each_backend
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


# -- the whole models -----------------------------------------------------------------------------
TRANSLATOR_CASES = [
    dict(dtype="float64"),
    dict(dtype="float32"),
    dict(dtype="float64", norm_first=True, tie_embeddings=True, positional="learned"),
    dict(dtype="float32", norm_first=True, activation="gelu"),
]
LM_CASES = [
    dict(dtype="float64"),  # pre-LN, learned positions, tied: the defaults
    dict(dtype="float32"),
    dict(dtype="float64", norm_first=False, tie_embeddings=False, positional="sinusoidal"),
    dict(dtype="float32", activation="gelu", positional="none", tie_embeddings=False),
]
MODEL_CASES = [("translator", c) for c in TRANSLATOR_CASES] + [("lm", c) for c in LM_CASES]


def make_model(kind, **kw):
    if kind == "translator":
        config = TransformerConfig(20, 30, d_model=16, num_heads=2, d_ff=32, dropout=0.1, **kw)
        return Transformer(config)
    config = LanguageModelConfig(30, d_model=16, num_heads=2, d_ff=32, num_layers=2,
                                 max_len=12, dropout=0.1, **kw)
    return LanguageModel(config)


def model_pair(kind="translator", **kw):
    model = make_model(kind, **kw).eval()  # eval: no dropout
    ref = torch_model(model.config).eval()
    ref.load_state_dict(to_torch_state_dict(model))
    return model, ref


def model_inputs(kind, seed=0):
    """Token ids for both models: (src [3, 7], tgt_in [3, 6]) with padding, or tokens [3, 9]."""
    rng = np.random.default_rng(seed)
    if kind == "lm":
        return (rng.integers(0, 30, (3, 9)),)
    src, tgt = rng.integers(1, 20, (3, 7)), rng.integers(1, 30, (3, 6))
    src[0, 5:], tgt[1, 4:] = 0, 0  # padding
    return src, tgt


def case_id(case):
    kind, kw = case
    return "-".join([kind, *map(str, kw.values())])


@on_each_backend
@pytest.mark.parametrize("kind, case", MODEL_CASES, ids=list(map(case_id, MODEL_CASES)))
def test_whole_model_matches_torch(kind, case):
    model, ref = model_pair(kind, **case)
    inputs = model_inputs(kind)
    out = model(*inputs)
    ref_out = ref(*map(torch.from_numpy, inputs))
    assert_close(out.data, ref_out, case["dtype"], f"{kind} logits")
    backward_both(out, ref_out)
    assert_grads_close(model, ref, case["dtype"])


# -- conversions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["translator", "lm"])
def test_state_dicts_round_trip_exactly_both_ways(kind):
    model, ref = model_pair(kind, dtype="float32", positional="learned")
    ours = model.state_dict()
    back = from_torch_state_dict(to_torch_state_dict(model))
    assert list(back) == list(ours) and all(np.array_equal(back[k], ours[k]) for k in ours)
    theirs = ref.state_dict()
    again = to_torch_state_dict(_loaded(model, from_torch_state_dict(theirs)))
    assert set(again) == set(theirs) and all(torch.equal(again[k], theirs[k]) for k in theirs)
    assert {"translator": "transformer.decoder.layers.0.multihead_attn.in_proj_weight",
            "lm": "blocks.layers.1.self_attn.in_proj_weight"}[kind] in again


def _loaded(model, state):
    model.load_state_dict(state)  # strict: every name must match
    return model


def test_masks_flip_between_conventions():
    ours = nn.causal_mask(3)
    theirs = to_torch_mask(ours)
    assert theirs.dtype == torch.bool and bool(theirs[0, 1]) and not bool(theirs[1, 0])
    np.testing.assert_array_equal(from_torch_mask(theirs), ours)


# -- export and import -----------------------------------------------------------------------------
def saved(kind, path, **kw):
    """A fresh model and its checkpoint, with a meta as a trainer writes it (small stand-ins
    for the vocabularies or the tokenizer, which export only carries)."""
    model = make_model(kind, **kw)
    meta = {"model_config": model.config.to_dict(), "train_config": {"steps": 9}, "step": 7,
            "history": [{"step": 7, "train_loss": 1.5}], "data_file": None}
    if kind == "translator":
        vocab = Vocab.build([["a", "b"]]).to_json()
        meta |= {"src_vocab": vocab, "tgt_vocab": vocab}
    else:
        meta |= {"tokenizer": {"type": "chars", "chars": "ab"}}
    optimizer = adamw_state(model)  # moves the weights: before they are saved
    return model, save_checkpoint(path, model.state_dict(), meta, optimizer)


def adamw_state(model) -> dict:
    """AdamW's state after two steps of random gradients, one parameter left without any."""
    opt = AdamW(model.parameters(), lr=0.1)
    rng = np.random.default_rng(3)
    for _ in range(2):
        for p in model.parameters():
            p.grad = rng.standard_normal(p.shape).astype(p.dtype)
        model.parameters()[1].grad = None  # its step stays 0: no state on torch's side
        opt.step()
    return opt.state_dict()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["translator", "lm"])
def test_exported_model_equals_ours(kind, dtype, tmp_path):
    model, ckpt = saved(kind, tmp_path / "ckpt", dtype=dtype)
    out = export_checkpoint(ckpt, tmp_path / "torch")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors",
                                                     "optimizer.safetensors"]
    ref, config = load_torch_model(out)
    assert config["kind"] == kind and config["meta"] == load_checkpoint(ckpt).meta
    inputs = model_inputs(kind)
    with inference(model), torch.no_grad():
        ours, theirs = model(*inputs), ref.eval()(*map(torch.from_numpy, inputs))
    assert theirs.dtype == TORCH_DTYPE[dtype]
    assert_close(ours.data, theirs, dtype, f"exported {kind}'s logits")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["translator", "lm"])
def test_import_of_export_is_the_checkpoint_bit_for_bit(kind, dtype, tmp_path):
    _, ckpt = saved(kind, tmp_path / "ckpt", dtype=dtype, positional="learned")
    back = import_checkpoint(export_checkpoint(ckpt, tmp_path / "torch"), tmp_path / "back")
    before, after = load_checkpoint(ckpt), load_checkpoint(back)
    assert after.meta == before.meta and sorted(after.tensors) == sorted(before.tensors)
    for name, x in before.tensors.items():
        y = after.tensors[name]
        assert (y.dtype, y.shape, y.tobytes()) == (x.dtype, x.shape, x.tobytes()), name
    for file in ("model.safetensors", "optimizer.safetensors", "meta.json"):  # byte for byte
        assert (back / file).read_bytes() == (ckpt / file).read_bytes(), file


def test_export_and_import_commands(tmp_path, capsys):
    _, ckpt = saved("translator", tmp_path / "ckpt")
    out, back = str(tmp_path / "torch"), str(tmp_path / "back")
    assert cli.main(["export", "--checkpoint", str(ckpt), "--to", "torch", out]) == 0
    assert cli.main(["export", "--checkpoint", str(ckpt), "--to", "torch", out]) == 1
    assert "already exists; choose another folder, or pass --overwrite" in one_line(capsys)
    assert cli.main(["export", "--checkpoint", str(ckpt), "--to", "torch", out,
                     "--overwrite"]) == 0
    assert cli.main(["import", str(ckpt), "--checkpoint", back]) == 1  # a checkpoint, not torch's
    assert "it is a checkpoint: `tinytransformer export` writes it" in one_line(capsys)
    assert cli.main(["import", out, "--checkpoint", back]) == 0
    assert cli.main(["export", "--checkpoint", str(tmp_path / "none"), out]) == 1
    assert "no checkpoint there" in one_line(capsys)


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_export_refuses_what_it_cannot_convert(tmp_path):
    model, ckpt = saved("lm", tmp_path / "ckpt")
    state = load_checkpoint(ckpt)
    llama = {"vocab_size": 30, "num_kv_heads": 1}  # not a field of LanguageModelConfig
    save_checkpoint(tmp_path / "llama", state.tensors, {**state.meta, "model_config": llama})
    with pytest.raises(CheckpointError, match="neither a translator's nor a language model's"):
        export_checkpoint(tmp_path / "llama", tmp_path / "out")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="is not a torch folder written here; refusing"):
        save_torch_folder(tmp_path / "notes", {}, {})
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


# -- the LLM: a folder transformers loads ----------------------------------------------------------
def tiny_llama(tie: bool) -> Llama:
    """A random tiny LLaMA (6 query heads sharing 2 key/value heads), its RMSNorm weights random
    too: ones would hide a weight that was never written."""
    model = Llama(LlamaConfig(vocab_size=50, d_model=24, num_layers=2, num_heads=6,
                              num_kv_heads=2, d_ff=40, rope_theta=1000.0, max_len=64,
                              tie_embeddings=tie))
    rng = np.random.default_rng(0)
    for p in model.parameters():
        if p.ndim == 1:
            p.data = (1 + 0.3 * rng.standard_normal(p.shape)).astype(p.dtype)
    return model


def assert_same_llama(a: Llama, b: Llama) -> None:
    assert a.config == b.config
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(sa[k].dtype == sb[k].dtype and sa[k].tobytes() == sb[k].tobytes() for k in sa)


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_llama_folder_loads_in_transformers_and_back(tie, tmp_path):
    transformers = pytest.importorskip("transformers")
    model = tiny_llama(tie)
    out = save_llama_folder(model, tmp_path / "hf")
    ref = transformers.LlamaForCausalLM.from_pretrained(out).eval()
    ids = np.random.default_rng(1).integers(0, 50, (2, 9))
    with inference(model), torch.no_grad():
        ours, theirs = model(ids).data, ref(torch.from_numpy(ids)).logits.numpy()
    assert theirs.dtype == np.float32
    err = np.abs(ours - theirs).max() / (theirs.max() - theirs.min())
    assert err <= 1e-5, f"logits: max |diff| / range {err:.1e}"  # float32 both (RMSNorm too)
    assert_same_llama(load_llama_folder(out), model)


def test_export_of_a_gguf_file_and_import_refused(tmp_path, capsys):
    from .tiny_gguf import write_tiny_gguf

    write_tiny_gguf(tmp_path / "tiny.gguf", tiny_llama(tie=True))
    out = str(tmp_path / "hf")
    assert cli.main(["export", "--checkpoint", str(tmp_path / "tiny.gguf"), out]) == 0
    assert_same_llama(load_llama_folder(out), Llama.from_gguf(tmp_path / "tiny.gguf"))
    assert cli.main(["import", out, "--checkpoint", str(tmp_path / "back")]) == 1
    assert "a transformers model, which `interop.load_llama_folder` reads" in one_line(capsys)
