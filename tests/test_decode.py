"""decode: greedy and beam search on a tiny trained translator (conftest's `trained`), with
and without the key/value cache."""

import pytest

from tinytransformer.decode import beam_search, greedy
from tinytransformer.translate import encode_sources

pytestmark = pytest.mark.slow  # the tiny translator trains first (conftest's `trained`, ~8 s)


def test_cached_and_uncached_decoding_agree(trained):
    _, trainer = trained
    src = encode_sources(trainer.corpus.src_vocab,
                         [en for en, _ in trainer.corpus.splits["test"][:12]])
    assert greedy(trainer.model, src, use_cache=True) == greedy(trainer.model, src, use_cache=False)
    assert (beam_search(trainer.model, src[:4], 3, use_cache=True)
            == beam_search(trainer.model, src[:4], 3, use_cache=False))


def test_beam_of_one_is_greedy(trained):
    _, trainer = trained
    src = encode_sources(trainer.corpus.src_vocab,
                         [en for en, _ in trainer.corpus.splits["test"][:8]])
    assert beam_search(trainer.model, src, 1, length_alpha=0.0) == greedy(trainer.model, src)
