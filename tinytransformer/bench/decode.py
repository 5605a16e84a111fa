"""Greedy decoding of the reference model, with and without the key/value cache."""

from __future__ import annotations

from .step import reference_batch, reference_model
from .timing import interleaved


def measure(repeats: int = 5) -> dict:
    """Greedy decoding of 64 sentences to 30 tokens, with and without the key/value cache."""
    from ..decode import greedy

    model = reference_model(dropout=0.0)
    src = reference_batch()[0]
    # eos_id=-1 never matches, so every sentence decodes exactly 30 tokens
    fns = {c: (lambda c=c: greedy(model, src, max_len=30, eos_id=-1, use_cache=c == "cached"))
           for c in ("cached", "uncached")}
    assert fns["cached"]() == fns["uncached"]()  # the cache changes the cost, not the output
    t = interleaved(fns, repeats, warmup=1)
    r = {"cached_ms": t["cached"] * 1e3, "uncached_ms": t["uncached"] * 1e3,
         "speedup": t["uncached"] / t["cached"]}
    print(f"greedy decoding, 64 sentences x 30 tokens (reference model, median of {repeats}):\n"
          f"  with KV cache {r['cached_ms']:7.1f} ms   without {r['uncached_ms']:7.1f} ms"
          f"   speed-up {r['speedup']:.2f}x")
    return r
