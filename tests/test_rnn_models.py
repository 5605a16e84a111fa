"""The RNN baselines: logits equal to the same model written with torch's GRU and GRUCell
(float64), incremental decoding equal to decoding the whole prefix, padding that changes
nothing, attention that sums to one on real tokens, and a checkpoint through the trainer."""

import numpy as np
import pytest

from tinytransformer.decode import beam_search, greedy
from tinytransformer.models.rnn import RNNConfig, RNNTranslator
from tinytransformer.nn import KVCache, inference
from tinytransformer.train import TrainConfig, Trainer
from tinytransformer.translate import attention_maps, load_translator, translate

torch = pytest.importorskip("torch")

SRC = np.array([[5, 6, 7, 8], [9, 4, 0, 0], [6, 0, 0, 0]])  # [B, S], 0 = <pad>
TGT_IN = np.array([[2, 4, 5, 6], [2, 7, 0, 0], [2, 5, 8, 4]])  # [B, T]


def model(attention: bool, dtype="float64") -> RNNTranslator:
    return RNNTranslator(RNNConfig(src_vocab=12, tgt_vocab=10, d_model=8, attention=attention,
                                   dropout=0.0, dtype=dtype, seed=3))


def t(x):
    return torch.tensor(np.asarray(getattr(x, "data", x)), dtype=torch.float64)


def torch_gru(module_cell, cls, *sizes):
    ref = cls(*sizes, dtype=torch.float64)
    suffix = "_l0" if cls is torch.nn.GRU else ""
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(ref, name + suffix).data = t(getattr(module_cell, name))
    return ref


def torch_logits(m: RNNTranslator, src, tgt_in) -> np.ndarray:
    """The model's equations, written with torch.nn.GRU / GRUCell and the same weights."""
    C, mask = m.config.d_model, torch.tensor(src != 0)
    enc = torch_gru(m.encoder.cell, torch.nn.GRU, C, C, 1, True, True)  # batch_first
    H, _ = enc(t(m.src_embed.weight)[torch.tensor(src)])  # [B, S, C]
    c = H[torch.arange(len(src)), mask.sum(1) - 1]
    s = torch.tanh(c @ t(m.bridge.weight).T + t(m.bridge.bias))
    cell = torch_gru(m.decoder, torch.nn.GRUCell, 2 * C, C)
    y, outs = t(m.tgt_embed.weight)[torch.tensor(tgt_in)], []
    for step in range(tgt_in.shape[1]):
        ctx = c
        if m.config.attention:
            keys = H @ t(m.attn_key.weight).T + t(m.attn_key.bias)
            e = torch.tanh(keys + (s @ t(m.attn_query.weight).T)[:, None]) @ \
                t(m.attn_score.weight).T
            a = torch.softmax(e[..., 0].masked_fill(~mask, float("-inf")), dim=-1)
            ctx = (a[..., None] * H).sum(1)
        s = cell(torch.cat([y[:, step], ctx], -1), s)
        outs.append(torch.cat([s, ctx], -1))
    logits = torch.stack(outs, 1) @ t(m.generator.weight).T + t(m.generator.bias)
    return logits.detach().numpy()


@pytest.mark.parametrize("attention", [False, True])
def test_logits_equal_torchs_gru_encoder_decoder(attention):
    m = model(attention)
    with inference(m):
        ours = m(SRC, TGT_IN).data
    np.testing.assert_allclose(ours, torch_logits(m, SRC, TGT_IN), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("attention", [False, True])
def test_one_step_at_a_time_equals_the_whole_prefix(attention):
    m = model(attention)
    with inference(m):
        mask = m.src_mask(SRC)
        memory = m.encode(SRC, mask)
        whole = m.decode(TGT_IN, memory, mask).data
        cache = KVCache()
        steps = [m.decode(TGT_IN[:, i:i + 1], memory, mask, cache).data for i in range(4)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), whole, rtol=1e-10, atol=1e-14)
    assert greedy(m, SRC, 6) == greedy(m, SRC, 6, use_cache=False)
    assert beam_search(m, SRC, 3, 6) == beam_search(m, SRC, 3, 6, use_cache=False)


@pytest.mark.parametrize("attention", [False, True])
def test_padding_changes_nothing(attention):
    m = model(attention)
    with inference(m):
        alone = m(SRC[1:2, :2], TGT_IN[1:2]).data
        batched = m(SRC, TGT_IN).data[1:2]
    np.testing.assert_allclose(batched, alone, rtol=1e-10)


def test_attention_sums_to_one_over_real_tokens():
    m = model(True)
    with inference(m):
        _, maps = m(SRC, TGT_IN, need_weights=True)
    (a,) = maps["cross"]  # [B, 1, T, S]: one layer, one head
    assert a.shape == (3, 1, 4, 4) and maps["encoder_self"] == []
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-12)
    assert np.all(a[:, 0][np.broadcast_to((SRC == 0)[:, None], a[:, 0].shape)] < 1e-12)


@pytest.mark.parametrize("arch", ["rnn", "rnn-attention"])
def test_the_trainer_trains_and_checkpoints_an_rnn(tmp_path, arch):
    cfg = TrainConfig(arch=arch, steps=6, eval_every=6, eval_sentences=8, batch_size=16,
                      model={"d_model": 16})
    trainer = Trainer(cfg, tmp_path, log=lambda *a: None)
    history = trainer.run(progress=False)
    assert history[-1]["step"] == 6 and np.isfinite(history[-1]["valid_loss"])
    loaded, vocabs, meta = load_translator(tmp_path / "latest")
    assert type(loaded) is RNNTranslator and loaded.config.attention == (arch != "rnn")
    with inference(trainer.model):
        expected = trainer.model(SRC, TGT_IN).data
    np.testing.assert_array_equal(loaded(SRC, TGT_IN).data, expected)
    assert len(translate(loaded, vocabs, ["i read books at home ."], beam_size=2)) == 1
    _, maps = attention_maps(loaded, vocabs, "i read books at home .")
    assert list(maps) == ([] if arch == "rnn" else ["cross"])


def test_an_rnn_refuses_transformer_sizes():
    with pytest.raises(ValueError, match="--arch rnn has no num_heads"):
        TrainConfig(arch="rnn", model={"num_heads": 2})
    with pytest.raises(ValueError, match="transformer, rnn, rnn-attention"):
        TrainConfig(arch="lstm")
