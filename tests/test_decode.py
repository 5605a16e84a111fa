"""decode: greedy and beam search on a tiny trained translator (conftest's `trained`), with
and without the key/value cache."""

import numpy as np
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


def test_decoding_stops_at_the_models_last_position():
    """A model with 8 positions decodes at most 7 tokens after <bos>, greedy or beam, and the
    attention maps of that translation fit too (greedy's default cap is 50)."""
    from tinytransformer.data import Vocab
    from tinytransformer.models import Transformer, TransformerConfig
    from tinytransformer.translate import attention_maps

    model = Transformer(TransformerConfig(src_vocab=10, tgt_vocab=10, d_model=8, num_heads=2,
                                          d_ff=16, num_encoder_layers=1, num_decoder_layers=1,
                                          max_len=8, dropout=0.0))
    src = np.array([[4, 5, 6]])
    assert len(greedy(model, src, eos_id=-1)[0]) == 7
    assert len(beam_search(model, src, beam_size=2, eos_id=-1)[0]) <= 7
    vocab = Vocab(["<pad>", "<unk>", "<bos>", "<eos>", *"abcdef"])
    _, maps = attention_maps(model, (vocab, vocab), "a b c")
    assert maps["cross"][0].shape[-2] <= 8
