"""data.text: language-model text from the toy corpus, and next-token arrays and batches."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytransformer.data import BOS_ID, EOS_ID, PAD_ID, tokenize_en, tokenize_zh, toy_splits
from tinytransformer.data.text import lm_arrays, lm_batches, toy_text

from ..strategies import id_sentences


@pytest.mark.parametrize("side, column, tokenize", [("en", 0, tokenize_en), ("zh", 1, tokenize_zh)])
def test_toy_text_is_one_side_of_the_splits_tokenized(side, column, tokenize):
    text = toy_text(side, n_train=300, n_valid=20, n_test=20)
    splits = toy_splits(0, 300, 20, 20)
    for name in ("train", "valid", "test"):
        assert text[name] == [tokenize(pair[column]) for pair in splits[name]]
    assert not {tuple(s) for s in text["valid"]} & {tuple(s) for s in text["train"]}


def test_toy_text_checks_the_side():
    with pytest.raises(ValueError, match="side must be 'en' or 'zh'"):
        toy_text("fr")


@given(ids=id_sentences)
def test_lm_arrays_shift_by_one(ids):
    x, y = lm_arrays(ids)
    assert x.shape == y.shape == (len(ids), max(1, *(len(s) + 1 for s in ids)))
    for row_x, row_y, s in zip(x, y, ids):
        n = len(s) + 1
        assert row_x[:n].tolist() == [BOS_ID, *s] and row_y[:n].tolist() == [*s, EOS_ID]
        assert (row_x[n:] == PAD_ID).all() and (row_y[n:] == PAD_ID).all()
        assert row_x[1:n].tolist() == row_y[:n - 1].tolist()  # y is x one step ahead


@given(ids=id_sentences, batch_size=st.integers(1, 4), seed=st.integers(0, 3))
def test_lm_batches_hold_every_sentence_once(ids, batch_size, seed):
    batches = lm_batches(ids, batch_size, np.random.default_rng(seed))
    rows = sorted(tuple(int(t) for t in y if t != PAD_ID) for _, ys in batches for y in ys)
    assert rows == sorted((*s, EOS_ID) for s in ids)
    assert all(len(x) <= batch_size and x.shape == y.shape for x, y in batches)
