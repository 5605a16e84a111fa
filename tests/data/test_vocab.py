"""data.vocab: the vocabulary's order, specials, encoding, decoding and JSON form."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytransformer.data import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocab

SENTENCES = [["i", "like", "cats"], ["i", "like", "tea"], ["you", "like", "tea"]]


def test_vocab_order_and_specials():
    vocab = Vocab.build(SENTENCES)
    assert vocab.itos == ["<pad>", "<unk>", "<bos>", "<eos>", "like", "i", "tea", "cats", "you"]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert len(vocab) == 9 and "tea" in vocab and "dog" not in vocab


@pytest.mark.parametrize("min_freq, max_size, expected", [
    (1, None, ["like", "i", "tea", "cats", "you"]),
    (2, None, ["like", "i", "tea"]),
    (1, 6, ["like", "i"]),
    (4, None, []),
])
def test_vocab_min_freq_and_max_size(min_freq, max_size, expected):
    assert Vocab.build(SENTENCES, min_freq=min_freq, max_size=max_size).itos[4:] == expected


def test_vocab_encode_decode():
    vocab = Vocab.build(SENTENCES)
    ids = vocab.encode(["i", "like", "dogs"], add_bos=True, add_eos=True)
    assert ids == [BOS_ID, 5, 4, UNK_ID, EOS_ID]
    assert vocab.decode(ids) == ["i", "like", "<unk>"]
    assert vocab.decode([*ids, PAD_ID], strip_specials=False) == [
        "<bos>", "i", "like", "<unk>", "<eos>", "<pad>"]
    assert vocab.decode(np.array(ids)) == ["i", "like", "<unk>"]
    with pytest.raises(ValueError, match="id 9"):
        vocab.decode([9])


@given(st.lists(st.lists(st.text(min_size=1, max_size=3), max_size=6), max_size=6))
def test_vocab_round_trips(sentences):
    vocab = Vocab.build(sentences)
    for sentence in sentences:
        if not any(t in ("<pad>", "<bos>", "<eos>", "<unk>") for t in sentence):
            assert vocab.decode(vocab.encode(sentence, add_bos=True, add_eos=True)) == sentence
    assert Vocab.from_json(json.loads(json.dumps(vocab.to_json()))) == vocab


@pytest.mark.parametrize("data", [{"tokens": ["a", "b"]}, {"tokens": [
    "<pad>", "<unk>", "<bos>", "<eos>", "a", "a"]}, {"itos": []}, ["<pad>"]])
def test_vocab_from_bad_json(data):
    with pytest.raises(ValueError, match="Vocab"):
        Vocab.from_json(data)
