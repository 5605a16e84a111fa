"""The tokenizer interface, for every kind: encode/decode/tokens, specials, files, errors.

BPE's agreement with real tokenizers is in test_bpe.py and test_smollm2_tokenizer.py; here
each kind keeps the interface's promises, and the chat template is checked against Jinja.
"""

import json

import pytest

from tinytransformer.data.tokenize import detokenize_en, tokenize_en
from tinytransformer.data.toy_splits import toy_splits
from tinytransformer.data.vocab import SPECIALS
from tinytransformer.tokenizers import (
    SMOLLM2_DEFAULT_SYSTEM,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    apply_chat_template,
    load_tokenizer,
    train_bpe,
)
from tinytransformer.tokenizers.chat import SMOLLM2_TEMPLATE, default_system_from_template

PAIRS = toy_splits(0, 300, 20, 20)["train"]
EN = [en for en, _ in PAIRS]
ZH = [zh for _, zh in PAIRS]

BUILDERS = {
    "words-en": lambda: WordTokenizer.train(EN, "en"),
    "words-zh": lambda: WordTokenizer.train(ZH, "zh"),
    "chars": lambda: CharTokenizer.train(EN + ZH),
    "bpe": lambda: train_bpe("\n".join(EN + ZH), 150, specials=["<|endoftext|>"]),
}
TRAINED_ON = {"words-en": EN, "words-zh": ZH, "chars": EN + ZH, "bpe": EN + ZH}


@pytest.fixture(scope="module", params=list(BUILDERS))
def kind(request):
    return request.param, BUILDERS[request.param]()


def test_ids_are_in_the_vocabulary_and_tokens_show_them(kind):
    name, tok = kind
    assert isinstance(tok, Tokenizer)
    for s in TRAINED_ON[name][:50]:
        ids = tok.encode(s)
        assert ids and all(isinstance(i, int) and 0 <= i < tok.vocab_size for i in ids)
        assert len(tok.tokens(ids)) == len(ids)
        assert tok.pieces(s) == tok.tokens(ids)


def test_text_it_was_trained_on_comes_back(kind):
    """Exact for chars and BPE; the word tokenizers' toy sentences are already normalised."""
    name, tok = kind
    for s in TRAINED_ON[name]:
        assert tok.decode(tok.encode(s)) == s


def test_special_tokens_have_distinct_ids_in_range(kind):
    name, tok = kind
    ids = list(tok.special_tokens.values())
    assert ids and len(set(ids)) == len(ids) and all(0 <= i < tok.vocab_size for i in ids)
    if name != "bpe":  # data/vocab.py's specials
        assert tok.special_tokens == {s: i for i, s in enumerate(SPECIALS)}


def test_save_and_load_give_the_same_tokenizer(kind, tmp_path):
    name, tok = kind
    path = tok.save(tmp_path / f"{name}.json")
    loaded = load_tokenizer(path)
    assert type(loaded) is type(tok) and loaded.to_json() == tok.to_json()
    assert type(tok).load(path).to_json() == tok.to_json()
    for s in TRAINED_ON[name][:50] + ["unseen: Zebra 斑马 🦓"]:
        assert loaded.encode(s) == tok.encode(s)


def test_word_tokenizer_is_data_tokenize_plus_vocab():
    tok = WordTokenizer.train(EN, "en")
    s = "I don't like Tom's zebra."
    assert tok.tokens(tok.encode(s)) == [t if t in tok.vocab else "<unk>" for t in tokenize_en(s)]
    assert tok.decode(tok.encode(EN[0])) == detokenize_en(tokenize_en(EN[0]))
    assert tok.encode("zebra") == [tok.vocab.unk_id]


def test_char_tokenizer_keeps_spaces_and_marks_unseen_characters():
    tok = CharTokenizer.train(["ab c\n"])
    assert tok.tokens(tok.encode("a c\n")) == ["a", " ", "c", "\n"]
    assert tok.encode("az") == [tok.vocab.stoi["a"], tok.vocab.unk_id]


# -- files that are wrong say what is wrong ------------------------------------------------------

def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "bpe",\n "tokens": }', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json:2: not valid JSON"):
        load_tokenizer(bad)
    bad.write_text('{"type": "sentencepiece"}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: \"type\" is 'sentencepiece'"):
        load_tokenizer(bad)
    bad.write_text('{"type": "bpe", "pattern": "gpt2"}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json: a 'bpe' tokenizer file is missing"):
        load_tokenizer(bad)
    chars = CharTokenizer.train(["abc"]).save(tmp_path / "chars.json")
    with pytest.raises(ValueError, match="holds a CharTokenizer, not a BPETokenizer"):
        BPETokenizer.load(chars)


def test_bpe_readers_reject_what_they_cannot_reproduce():
    with pytest.raises(ValueError, match="tokenizer.ggml.model is 'llama'"):
        BPETokenizer.from_gguf_metadata({"tokenizer.ggml.model": "llama"})
    with pytest.raises(ValueError, match="tokenizer.ggml.pre is 'qwen2'"):
        BPETokenizer.from_gguf_metadata({"tokenizer.ggml.model": "gpt2",
                                         "tokenizer.ggml.pre": "qwen2"})
    byte_vocab = [chr(c) for c in range(0x21, 0x7F)]
    with pytest.raises(ValueError, match=r"merge 0 'a q': 'aq' is not in the vocabulary"):
        BPETokenizer.from_merges(byte_vocab, ["a q"])
    with pytest.raises(ValueError, match="not a valid regex"):
        BPETokenizer.from_merges(byte_vocab, [], pattern="(unclosed")


# -- the chat template, against Jinja running SmolLM2's template ----------------------------------

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}],
    [{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"},
     {"role": "user", "content": "三\n"}],
    [{"role": "assistant", "content": "first"}, {"role": "system", "content": "late system"}],
]


@pytest.mark.parametrize("add_generation_prompt", [True, False])
@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_chat_template_matches_jinja(messages, add_generation_prompt):
    sandbox = pytest.importorskip("jinja2.sandbox")
    env = sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    source = SMOLLM2_TEMPLATE.replace("YOU_ARE", SMOLLM2_DEFAULT_SYSTEM)
    expected = env.from_string(source).render(messages=messages,
                                              add_generation_prompt=add_generation_prompt)
    assert apply_chat_template(messages, add_generation_prompt) == expected


def test_chat_template_options_and_errors():
    messages = [{"role": "user", "content": "Hi"}]
    assert apply_chat_template(messages, default_system=None) == \
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert apply_chat_template(messages, default_system="S").startswith(
        "<|im_start|>system\nS<|im_end|>\n")
    with pytest.raises(ValueError, match="message 1 must be a dict with 'role' and 'content'"):
        apply_chat_template([*messages, {"content": "no role"}])
    with pytest.raises(TypeError, match="message 0 needs str role and content"):
        apply_chat_template([{"role": "user", "content": ["parts"]}])
    other = json.dumps("{{ messages }}")
    with pytest.raises(ValueError, match="not SmolLM2's ChatML template"):
        default_system_from_template(other)
    assert default_system_from_template(SMOLLM2_TEMPLATE.replace("YOU_ARE", "X")) == "X"
