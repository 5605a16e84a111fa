"""SmolLM2-135M-Instruct's tokenizer, built from its GGUF metadata, against transformers'.

Two oracles, both transformers' tokenizer loaded from the same GGUF file:
  - with the pre-tokenizer of SmolLM2's own tokenizer.json, Digits(individual_digits) then
    ByteLevel: what the model was trained with, and what llama.cpp's "smollm" runs. Ours must
    agree on every string.
  - as transformers builds it from a GGUF: it does not know "smollm" and keeps GPT-2's
    ByteLevel alone, which cuts a number after spaces differently ("   7" is '  ', ' 7' for
    GPT-2 but '   ', '7' for SmolLM2). Ours must agree wherever the two cut alike.
"""

import os
from pathlib import Path

import pytest

from tinytransformer.tokenizers import BPETokenizer, apply_chat_template, load_tokenizer
from tinytransformer.tokenizers.chat import SMOLLM2_DEFAULT_SYSTEM, default_system_from_template
from tinytransformer.tokenizers.samples import random_utf8, sample_texts

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gguf_path() -> Path:
    if os.environ.get("TINYTRANSFORMER_CACHE"):
        cache = Path(os.environ["TINYTRANSFORMER_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        cache = Path(os.environ["XDG_CACHE_HOME"]) / "tinytransformer"
    else:
        cache = Path.home() / ".cache" / "tinytransformer"
    return cache / "smollm2" / GGUF_NAME


GGUF = _gguf_path()
pytestmark = pytest.mark.skipif(
    not GGUF.exists(), reason=f"{GGUF} is absent; `tinytransformer fetch smollm2` downloads it")

CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"},
     {"role": "user", "content": "写一首关于猫的诗。\n\n  Thanks 👍🏽"}],
    [{"role": "system", "content": ""}, {"role": "user", "content": "  spaces  \n"},
     {"role": "assistant", "content": "<|im_end|> inside"}, {"role": "user", "content": "ok"}],
    [{"role": "assistant", "content": "I speak first."}],
]
TEXTS = (sample_texts(2000, seed=2) + random_utf8(300, seed=3)
         + [apply_chat_template(c) for c in CONVERSATIONS])


def _metadata() -> dict:
    """The GGUF's metadata as plain Python values: the project's reader if it is there."""
    try:
        from tinytransformer.pretrained.gguf import GGUFFile
    except ImportError:
        GGUFFile = None
    if GGUFFile is not None:
        return GGUFFile(GGUF).metadata
    gguf = pytest.importorskip("gguf")
    reader = gguf.GGUFReader(GGUF)
    return {k: f.contents() for k, f in reader.fields.items() if k.startswith("tokenizer.")}


@pytest.fixture(scope="module")
def metadata():
    return _metadata()


@pytest.fixture(scope="module")
def ours(metadata):
    return BPETokenizer.from_gguf_metadata(metadata)


@pytest.fixture(scope="module")
def hf():
    """transformers' tokenizer for this GGUF (slow to build: once per module), offline."""
    pytest.importorskip("transformers")
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(GGUF.parent, gguf_file=GGUF.name)


@pytest.fixture(scope="module")
def hf_smollm2(hf):
    """A copy of hf's backend with tokenizer.json's pre-tokenizer: Digits, then ByteLevel."""
    from tokenizers import Tokenizer, pre_tokenizers
    backend = Tokenizer.from_str(hf.backend_tokenizer.to_str())
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    return backend


def _mismatches(rows, n=3):
    return [(s, a, b) for s, a, b in rows if a != b][:n]


def test_ids_match_transformers_with_smollm2s_pre_tokenizer(ours, hf_smollm2):
    rows = [(s, ours.encode(s), hf_smollm2.encode(s, add_special_tokens=False).ids)
            for s in TEXTS]
    agree = sum(a == b for _, a, b in rows)
    assert agree == len(TEXTS), (f"{agree}/{len(TEXTS)} agree", _mismatches(rows))


def test_ids_match_transformers_gguf_loader_where_it_cuts_alike(hf, hf_smollm2, ours):
    """transformers' GGUF loader drops the Digits step: where that changes no piece, the ids
    must agree too."""
    def cut(backend, s):
        return [p for p, _ in backend.pre_tokenizer.pre_tokenize_str(s)]
    alike = [s for s in TEXTS if cut(hf.backend_tokenizer, s) == cut(hf_smollm2, s)]
    rows = [(s, ours.encode(s), hf.encode(s, add_special_tokens=False)) for s in alike]
    assert not _mismatches(rows), _mismatches(rows)
    assert len(alike) > len(TEXTS) // 2  # most text has no number after a space


def test_round_trip(ours):
    """Exact, except that bytes the vocabulary lacks (the controls 0x04 0x06 ...) are dropped,
    as transformers drops them."""
    assert ours.missing_bytes and all(b < 0x20 or b >= 0xC0 for b in ours.missing_bytes)
    for s in TEXTS:
        data = s.encode("utf-8")
        kept = bytes(b for b in data if b not in ours.missing_bytes)
        assert ours.decode_bytes(ours.encode(s)) == kept, s
        if kept == data:
            assert ours.decode(ours.encode(s)) == s


def test_special_tokens_and_ids_match(ours, hf, metadata):
    hf_specials = {t: hf.convert_tokens_to_ids(t) for t in hf.all_special_tokens}
    assert hf_specials.items() <= ours.special_tokens.items()
    assert (ours.bos_id, ours.eos_id) == (hf.bos_token_id, hf.eos_token_id)
    assert ours.vocab_size == len(hf) == len(metadata["tokenizer.ggml.tokens"])


def test_from_hf_tokenizer_json_gives_the_same_ids(ours, hf_smollm2, tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(hf_smollm2.to_str(), encoding="utf-8")
    from_json = BPETokenizer.from_hf_tokenizer_json(path)
    assert from_json.pattern == "smollm2"
    for s in TEXTS[:400]:
        assert from_json.encode(s) == ours.encode(s), s


def test_save_load_gives_the_same_ids(ours, tmp_path):
    loaded = load_tokenizer(ours.save(tmp_path / "smollm2.json"))
    for s in TEXTS[:400]:
        assert loaded.encode(s) == ours.encode(s), s
    assert loaded.special_tokens == ours.special_tokens


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("n", range(len(CONVERSATIONS)))
def test_chat_template_matches_transformers(hf, n, add_generation_prompt):
    messages = CONVERSATIONS[n]
    expected = hf.apply_chat_template(messages, tokenize=False,
                                      add_generation_prompt=add_generation_prompt)
    assert apply_chat_template(messages, add_generation_prompt) == expected


def test_an_empty_conversation_is_an_error_in_both(hf):
    with pytest.raises(ValueError):
        hf.apply_chat_template([], tokenize=False)
    with pytest.raises(ValueError, match="empty"):
        apply_chat_template([])


def test_default_system_message_is_read_from_the_gguf(metadata):
    assert default_system_from_template(metadata["tokenizer.chat_template"]) == \
        SMOLLM2_DEFAULT_SYSTEM
