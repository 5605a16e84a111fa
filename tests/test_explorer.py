"""The attention explorer's data and page, without a browser (test_explorer_browser.py opens the
pages in Chromium): the neuron view's q and k give the model's own attention weights, the page
holds the model's numbers, and it is one self-contained file."""

import json
import re

import numpy as np
import pytest

from tinytransformer import cli
from tinytransformer import functional as F
from tinytransformer.checkpoint import save_checkpoint
from tinytransformer.data import EOS_ID, PAD_ID, Vocab
from tinytransformer.explorer import attention_page, notebook_html, page_data, render
from tinytransformer.explorer.page import SCRIPTS
from tinytransformer.models import (
    LanguageModel,
    LanguageModelConfig,
    Transformer,
    TransformerConfig,
)
from tinytransformer.nn import MultiHeadAttention, inference
from tinytransformer.tokenizers import CharTokenizer
from tinytransformer.translate import attention_maps

EN = "my mother will watch a movie at home tomorrow ."  # 10 tokens
ZH = "我妈妈明天会在家看一部电影。"
TEXT = "the cat sat 在家"


def tiny_translator(norm_first=False, **sizes):
    """A random translator that never writes <eos> (nor <pad>), so greedy decoding writes its
    50 tokens: every map has many queries, whatever the seed."""
    vocabs = Vocab.build([EN.split()]), Vocab.build([list(ZH)])
    config = {"d_model": 16, "num_heads": 2, "d_ff": 32, "num_encoder_layers": 2,
              "num_decoder_layers": 2, "dropout": 0.0, "max_len": 64, **sizes}
    model = Transformer(TransformerConfig(src_vocab=len(vocabs[0]), tgt_vocab=len(vocabs[1]),
                                          norm_first=norm_first, seed=1, **config))
    model.generator.bias.data[[EOS_ID, PAD_ID]] = -1e4
    return with_biases(model).eval(), vocabs


def with_biases(model):
    """Non-zero biases in W^Q, W^K, W^V (they start at zero), so that a page that forgot one
    would show other vectors than the model's."""
    rng = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, MultiHeadAttention):
            m.in_proj.bias.data[...] = rng.normal(0.0, 0.5, m.in_proj.bias.shape)
    return model


def tiny_lm():
    tokenizer = CharTokenizer.train([TEXT, "a mat 看书"])
    model = LanguageModel(LanguageModelConfig(vocab_size=tokenizer.vocab_size, d_model=16,
                                              num_heads=4, d_ff=32, num_layers=2, dropout=0.0,
                                              max_len=32, seed=2))
    return with_biases(model).eval(), tokenizer


def translator_case(norm_first):
    model, vocabs = tiny_translator(norm_first)
    _, maps = attention_maps(model, vocabs, EN)  # the PNG path's maps, computed on their own
    return page_data(model, vocabs, EN), {k: w for k, (w, _, _) in maps.items()}


def lm_case():
    model, tokenizer = tiny_lm()
    with inference(model):
        _, maps = model(np.array([tokenizer.encode(TEXT)]), need_weights=True)
    return page_data(model, tokenizer, TEXT), {"self": np.stack([w[0] for w in maps])}


CASES = [("translator, post-LN", lambda: translator_case(False)),
         ("translator, pre-LN", lambda: translator_case(True)),
         ("language model", lm_case)]


@pytest.fixture(scope="module", params=CASES, ids=[name for name, _ in CASES])
def case(request):
    """(the page's data, {kind: the model's weights [L, H, T_q, T_k]} computed by the test)"""
    return request.param[1]()


def neuron_weights(kind: dict, masked: bool = True) -> np.ndarray:
    """softmax(q k^T / sqrt(D) + M) from the page's vectors -> [L, H, T_q, T_k]"""
    q, k = np.array(kind["q"]), np.array(kind["k"])  # [L, H, T_q, D], [L, H_kv, T_k, D]
    k = np.repeat(k, q.shape[1] // k.shape[1], axis=1)  # query head h reads key head h // G
    s = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])  # [L, H, T_q, T_k]
    if masked and kind["causal"]:
        s = np.where(np.tri(*s.shape[-2:], dtype=bool), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


def test_neuron_vectors_give_the_models_weights(case):
    data, weights = case
    for kind in data["kinds"]:
        np.testing.assert_allclose(neuron_weights(kind), weights[kind["name"]], rtol=0,
                                   atol=1e-6, err_msg=kind["name"])


def test_page_weights_are_the_models(case):
    data, weights = case
    assert [k["name"] for k in data["kinds"]] == list(weights)
    for kind in data["kinds"]:
        shown = np.array(kind["weights"])
        np.testing.assert_allclose(shown, weights[kind["name"]], rtol=1e-6, atol=1e-8)
        assert shown.shape[2:] == (len(kind["queries"]), len(kind["keys"]))


def test_the_check_can_fail(case):
    """Vectors from the wrong layer, or without the causal mask, do not give the weights."""
    data, weights = case
    for kind in data["kinds"]:
        ours, model = neuron_weights(kind), weights[kind["name"]]
        assert np.abs(ours[::-1] - model).max() > 1e-3, kind["name"]
        if kind["causal"]:
            assert np.abs(neuron_weights(kind, masked=False) - model).max() > 1e-3


@pytest.mark.parametrize("build", [tiny_translator, tiny_lm], ids=["translator", "lm"])
def test_neuron_vectors_are_the_ones_the_model_multiplied(build, monkeypatch):
    """q and k themselves (not only their softmax, which a bias on k would not change) equal
    those the model passes to scaled_dot_product_attention in the page's forward pass."""
    calls, sdpa = [], F.scaled_dot_product_attention

    def spy(q, k, *args, **kwargs):
        calls.append((q.data[0], k.data[0]))  # [H, T_q, D], [H, T_k, D]
        return sdpa(q, k, *args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    model, tokenizer = build()
    data = page_data(model, tokenizer, EN if build is tiny_translator else TEXT)
    layers = [len(kind["q"]) for kind in data["kinds"]]
    last = calls[-sum(layers):]  # the last forward pass: encoder layers, then the decoder's
    order = ([last[:layers[0]], last[layers[0]::2], last[layers[0] + 1::2]]
             if len(layers) == 3 else [last])  # each decoder layer: self, then cross
    for kind, recorded in zip(data["kinds"], order):
        for name, i in (("q", 0), ("k", 1)):
            np.testing.assert_allclose(kind[name], np.stack([c[i] for c in recorded]),
                                       rtol=1e-5, atol=1e-6, err_msg=f"{kind['name']} {name}")


def test_translator_labels():
    data, _ = translator_case(False)
    enc, dec, cross = data["kinds"]
    assert enc["queries"] == enc["keys"] == cross["keys"] == EN.split()
    assert dec["keys"][0] == "<bos>" and dec["queries"][-1] == "<eos>"
    assert dec["queries"][:-1] == dec["keys"][1:] == cross["queries"][:-1]
    assert data["output"] == "".join(dec["queries"][:-1]) and "next" not in data


def test_next_token_logits_are_the_models():
    model, tokenizer = tiny_lm()
    data = page_data(model, tokenizer, TEXT)
    with inference(model):
        logits = model(np.array([tokenizer.encode(TEXT)])).data[0, -1]  # [V]
    np.testing.assert_allclose(data["next"]["logits"], logits, rtol=1e-6, atol=1e-7)
    assert data["next"]["top"] == np.argsort(-logits)[:10].tolist()
    assert data["next"]["top_tokens"] == tokenizer.tokens(data["next"]["top"])
    assert data["next"]["after"] == TEXT[-1] == data["kinds"][0]["queries"][-1]


def page_script(page: str, element_id: str) -> str:
    return re.search(rf'<script[^>]*id="{element_id}"[^>]*>(.*?)</script>', page, re.S).group(1)


def test_page_is_one_self_contained_file():
    model, tokenizer = tiny_lm()
    data = page_data(model, tokenizer, TEXT, checkpoint="runs/x/best")
    page = render(data)
    assert json.loads(page_script(page, "explorer-data")) == data
    assert not re.search(r"<(link|img|iframe)\b|<script[^>]*\bsrc=|@import|url\(", page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    assert SCRIPTS[-1] == "main.js"  # the last script draws the page, after the others exist
    for label in ("runs/x/best", "LanguageModel"):
        assert label in page_script(page, "explorer-data")


def test_tokens_cannot_end_the_script():
    """A token that spells </script> stays data: the page keeps its two script elements."""
    evil = "</script><script>alert(1)</script>"
    labels = [evil, "<b>", "&amp;", "é", "中"]
    model = LanguageModel(LanguageModelConfig(vocab_size=5, d_model=8, num_heads=2, d_ff=16,
                                              num_layers=1, max_len=8))
    page = attention_page(model, labels, [0, 1, 2, 3, 4])
    assert page.count("</script>") == 2
    assert json.loads(page_script(page, "explorer-data"))["kinds"][0]["keys"] == labels


def test_notebook_html_holds_the_page():
    import html

    page = attention_page(*tiny_lm(), TEXT)
    frame = notebook_html(page)
    assert frame.startswith("<div><iframe srcdoc=")
    assert html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1)) == page


def test_default_translator_page_fits_in_a_megabyte():
    """The default sizes (d_model 128, 4 heads, 2 + 2 layers), a 10-token sentence, and a
    translation at greedy's cap of 50 tokens (the trained toy model writes 14)."""
    model, vocabs = tiny_translator(**{name: getattr(TransformerConfig, name) for name in (
        "d_model", "num_heads", "d_ff", "num_encoder_layers", "num_decoder_layers")})
    page = attention_page(model, vocabs, EN)
    assert len(json.loads(page_script(page, "explorer-data"))["kinds"][1]["queries"]) == 51
    assert len(page.encode()) <= 1_000_000


def test_cli_writes_the_page(tmp_path, capsys):
    model, (src, tgt) = tiny_translator()
    save_checkpoint(tmp_path / "ckpt", model.state_dict(), {
        "model_config": model.config.to_dict(), "src_vocab": src.to_json(),
        "tgt_vocab": tgt.to_json()})
    out = tmp_path / "attention.html"
    assert cli.main(["attention", EN, "--checkpoint", str(tmp_path / "ckpt"),
                     "--html", str(out)]) == 0
    assert f"saved to {out}" in capsys.readouterr().out
    data = json.loads(page_script(out.read_text(encoding="utf-8"), "explorer-data"))
    assert data["checkpoint"] == str(tmp_path / "ckpt") and data["sentence"] == EN


@pytest.mark.parametrize("args, message", [
    (["--model", "smollm2"], "add --html FILE"),
    (["--checkpoint", "no/such/run", "--html", "x.html"], "no/such/run: no checkpoint there"),
])
def test_cli_errors_say_what_to_do(args, message, capsys):
    assert cli.main(["attention", EN, *args]) == 1
    assert message in capsys.readouterr().err


def test_cli_writes_a_language_models_page(tmp_path, capsys):
    """A checkpoint whose meta holds a tokenizer is a language model's (`lm train` writes it)."""
    pytest.importorskip("tinytransformer.lm_train", reason="the language model's trainer")
    model, tokenizer = tiny_lm()
    save_checkpoint(tmp_path / "lm", model.state_dict(), {
        "model_config": model.config.to_dict(), "tokenizer": tokenizer.to_json()})
    out = tmp_path / "lm.html"
    assert cli.main(["attention", TEXT, "--checkpoint", str(tmp_path / "lm"),
                     "--html", str(out)]) == 0
    data = json.loads(page_script(out.read_text(encoding="utf-8"), "explorer-data"))
    assert data["kinds"][0]["queries"] == list(TEXT) and "next" in data


@pytest.mark.slow
def test_smollm2_vectors_after_rope_give_its_weights():
    """SmolLM2: 9 query heads share 3 key heads, and q, k are rotated (RoPE) before they meet."""
    from tinytransformer.explorer.sources import load_pretrained
    from tinytransformer.pretrained import ModelNotFetchedError

    try:
        model, tokenizer = load_pretrained("smollm2")  # 10-45 s
    except ModelNotFetchedError as e:
        pytest.skip(f"{e}")
    text = "The cat sat on the mat because"
    data = page_data(model, tokenizer, text, "smollm2")
    with inference(model):
        logits, maps = model(np.array([tokenizer.encode(text)]), need_weights=True)
    kind = data["kinds"][0]
    assert np.shape(kind["q"])[:2] == (30, 9) and np.shape(kind["k"])[:2] == (30, 3)
    # The model's scores are float32 sums of 64 products and reach 24 here (the toy models'
    # stay near 1): their rounding shifts a weight by up to 1.09e-6 against the float64
    # recomputation. Head h reading key head h % 3 instead of h // 3 moves one by 1.0.
    np.testing.assert_allclose(neuron_weights(kind), np.stack([w[0] for w in maps]), rtol=0,
                               atol=1e-5)
    np.testing.assert_allclose(data["next"]["logits"], logits.data[0, -1], rtol=1e-6, atol=1e-5)
    assert kind["queries"] == tokenizer.tokens(tokenizer.encode(text))
