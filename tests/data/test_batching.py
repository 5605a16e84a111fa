"""data.batching: sentence pairs of similar length in padded id arrays (src, tgt_in, tgt_out),
by sentence count or by token budget."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinytransformer.data import BOS_ID, EOS_ID, PAD_ID, make_batches


def random_ids(n, seed=0):
    rng = np.random.default_rng(seed)
    src = [list(rng.integers(4, 50, size=rng.integers(0, 15))) for _ in range(n)]
    tgt = [list(rng.integers(4, 50, size=rng.integers(0, 20))) for _ in range(n)]
    return src, tgt


@pytest.mark.parametrize("sizing", [{"batch_size": 1}, {"batch_size": 16}, {"batch_size": 500},
                                    {"max_tokens": 64}, {"max_tokens": 5}])
@pytest.mark.parametrize("seed", [None, 0])
def test_batches_cover_each_pair_once_and_pad(sizing, seed):
    src, tgt = random_ids(300)
    rng = None if seed is None else np.random.default_rng(seed)
    batches = make_batches(src, tgt, rng=rng, pool=100, **sizing)
    seen = np.concatenate([b.index for b in batches])
    assert sorted(seen.tolist()) == list(range(300))
    for b in batches:
        check_padding(b, src, tgt)
        if "max_tokens" in sizing and len(b) > 1:
            assert len(b) * max(b.src.shape[1], b.tgt_in.shape[1]) <= sizing["max_tokens"]
        if "batch_size" in sizing:
            assert len(b) <= sizing["batch_size"]


def check_padding(b, src, tgt):
    """Row r of the batch is pair b.index[r]: its ids, then <pad> to the batch's width."""
    assert b.src.dtype == b.tgt_in.dtype == b.tgt_out.dtype == np.int64
    assert b.tgt_in.shape == b.tgt_out.shape and len(b.src) == len(b) > 0
    S, T = b.src.shape[1], b.tgt_in.shape[1]
    for row, i in enumerate(b.index):
        s, t = src[i], tgt[i]
        assert b.src[row].tolist() == s + [PAD_ID] * (S - len(s))
        assert b.tgt_in[row].tolist() == [BOS_ID, *t] + [PAD_ID] * (T - len(t) - 1)
        assert b.tgt_out[row].tolist() == [*t, EOS_ID] + [PAD_ID] * (T - len(t) - 1)
    assert b.n_src_tokens == sum(len(src[i]) for i in b.index)
    assert b.n_tgt_tokens == sum(len(tgt[i]) + 1 for i in b.index)


def test_batches_group_similar_lengths():
    src, tgt = random_ids(400)
    sorted_pad = sum(b.src.size for b in make_batches(src, tgt, batch_size=20, pool=400))
    rng = np.random.default_rng(0)
    shuffled = [rng.permutation(400)[i:i + 20] for i in range(0, 400, 20)]
    random_pad = sum(len(g) * max(1, max(len(src[i]) for i in g)) for g in shuffled)
    assert sorted_pad < 0.8 * random_pad


def test_batches_are_shuffled_deterministically():
    src, tgt = random_ids(200)

    def order(seed):
        rng = np.random.default_rng(seed)
        return np.concatenate([b.index for b in make_batches(src, tgt, batch_size=8, rng=rng)])

    assert order(1).tolist() == order(1).tolist()
    assert order(1).tolist() != order(2).tolist()


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=40),
       st.integers(1, 30))
def test_batches_any_lengths(lengths, max_tokens):
    src = [[5] * a for a, _ in lengths]
    tgt = [[6] * b for _, b in lengths]
    batches = make_batches(src, tgt, max_tokens=max_tokens, rng=np.random.default_rng(0), pool=7)
    assert sorted(i for b in batches for i in b.index.tolist()) == list(range(len(lengths)))
    assert sum(b.n_tgt_tokens for b in batches) == sum(b + 1 for _, b in lengths)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one"),
    ({"batch_size": 4, "max_tokens": 100}, "exactly one"),
    ({"batch_size": 0}, "batch_size=0"),
])
def test_batch_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_batches([[4]], [[5]], **kwargs)
    with pytest.raises(ValueError, match="1 sources but 2 targets"):
        make_batches([[4]], [[5], [6]], batch_size=2)
