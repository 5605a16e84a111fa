"""Hypothesis strategies shared by the tests."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def broadcastable_shapes(n: int, max_dims: int = 3, max_side: int = 3):
    """`n` shapes that broadcast together, including size-1 axes and 0-d shapes."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda s: list(s.input_shapes))


# --- kernels (tests/test_kernels.py) -------------------------------------------------------------
# Arrays come from a drawn seed rather than element by element: fast, and shrinking still works
# on the shapes and the scale.

float_dtypes = st.sampled_from([np.float32, np.float64])
logit_scales = st.sampled_from([1.0, 30.0, 1e4])  # 1e4: exp overflows unless the max is subtracted
sizes = st.integers(1, 9)


@st.composite
def arrays(draw, shape, dtype, scale=1.0, offset=0.0):
    """standard normal * scale + offset, of `shape` and `dtype`, sometimes in Fortran order."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = (scale * rng.standard_normal(shape) + offset).astype(dtype)
    return np.asfortranarray(a) if draw(st.booleans()) else a  # same values, not C-contiguous


@st.composite
def masks(draw, shape):
    """None, or a bool mask broadcast to `shape` (True = may attend) from a random subset of its
    axes, as a read-only view with stride-0 axes; rows may be all False."""
    if draw(st.booleans()):
        return None
    kept = tuple(n if draw(st.booleans()) else 1 for n in shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return np.broadcast_to(rng.random(kept) < draw(st.sampled_from([0.0, 0.5, 0.9])), shape)


@st.composite
def targets(draw, N, V, ignore_index):
    """Class ids [N] in [0, V), some of them ignore_index."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = rng.integers(0, V, N)
    t[rng.random(N) < draw(st.sampled_from([0.0, 0.3, 1.0]))] = ignore_index
    return t


# --- data (tests/data/) --------------------------------------------------------------------------

seeds = st.integers(0, 10_000)  # a corpus generator's seed
# sentences of token ids (4 and up: 0-3 are <pad>, <unk>, <bos>, <eos>), some empty
id_sentences = st.lists(st.lists(st.integers(4, 30), min_size=0, max_size=7), min_size=1,
                        max_size=9)
