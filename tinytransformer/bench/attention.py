"""Attention against sequence length: composed, fused and tiled attention, time and memory.

    tinytransformer bench attention

B = 1, H = 4, D = 32, float32, no mask, T = 256 ... 8192, through the graph (forward, then
backward from a random upstream gradient). Three implementations of the same formula:

    composed   primitive ops (matmul, scale, max, exp, sum, div): five [B, H, T, T] nodes
    fused      F.scaled_dot_product_attention(tiled=False): one node that keeps P [B, H, T, T]
    tiled      F.scaled_dot_product_attention(tiled=True): online softmax, keeps out and lse

Memory is the peak that tracemalloc sees during one forward + backward (NumPy reports its arrays
to it), and what is still allocated after the forward (kept for backward). A variant runs at a
length only while the [B, H, T, T] arrays it keeps fit in MEMORY_LIMIT: composed stops after
T = 2048 (five arrays: 1.25 GiB at 4096, 5 GiB at 8192), fused runs to 8192 (1 GiB of P).
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np

from .timing import interleaved

B, H, D = 1, 4, 32
LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
# [B, H, T, T] arrays each keeps for backward, without a mask (a mask adds one to composed's)
SQUARES_KEPT = {"composed": 5, "fused": 1, "tiled": 0}
MEMORY_LIMIT = 2**30  # bytes of kept [B, H, T, T] float32 arrays a variant may need to run


def attention_composed(q, k, v, mask=None):
    """softmax(Q K^T / sqrt(D), masked) V from primitive ops.  [B, H, T, D] x3 -> [B, H, T, D]

    Chapter 10 measures it; chapters 2 and 7 build it step by step."""
    from .. import functional as F

    s = q @ k.swapaxes(-1, -2) * (1.0 / math.sqrt(q.shape[-1]))  # [B, H, T, T], two nodes
    if mask is not None:
        s = F.masked_fill(s, ~np.asarray(mask), -np.inf)  # [B, H, T, T]
    e = (s - s.max(axis=-1, keepdims=True)).exp()  # [B, H, T, T], two nodes
    return (e / e.sum(axis=-1, keepdims=True)) @ v  # P [B, H, T, T], then [B, H, T, D]


def variants() -> dict:
    """name -> f(q, k, v, mask) -> out, for the three implementations."""
    from .. import functional as F

    return {"composed": attention_composed,
            "fused": lambda q, k, v, mask=None: F.scaled_dot_product_attention(
                q, k, v, mask, tiled=False)[0],
            "tiled": lambda q, k, v, mask=None: F.scaled_dot_product_attention(
                q, k, v, mask, tiled=True)[0]}


def runs(T: int) -> list[str]:
    """The variants that run at length T (their kept [B, H, T, T] arrays within MEMORY_LIMIT)."""
    return [name for name, n in SQUARES_KEPT.items() if n * 4 * B * H * T * T <= MEMORY_LIMIT]


def _inputs(T: int, seed: int = 0):
    """q, k, v [B, H, T, D] float32 that require grad, and an upstream gradient g."""
    from .. import Tensor

    rng = np.random.default_rng(seed)
    q, k, v = (Tensor(rng.standard_normal((B, H, T, D)).astype(np.float32), requires_grad=True)
               for _ in range(3))
    return q, k, v, rng.standard_normal((B, H, T, D)).astype(np.float32)


def _step(f, T: int):
    """A function running forward + backward of f at length T (inputs made once)."""
    q, k, v, g = _inputs(T)

    def run():
        for t in (q, k, v):
            t.grad = None
        f(q, k, v).backward(g)
    return run


def traced(f, T: int) -> tuple[int, int]:
    """(bytes still allocated after the forward, peak bytes during forward + backward)."""
    q, k, v, g = _inputs(T)
    tracemalloc.start()
    out = f(q, k, v)
    kept = tracemalloc.get_traced_memory()[0]
    out.backward(g)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return kept, peak


def repeats_at(T: int) -> int:
    """Timed rounds at length T: fewer where one forward + backward takes seconds."""
    return 5 if T <= 1024 else (3 if T <= 4096 else 2)


def measure(lengths=LENGTHS, repeats=None) -> dict:
    """Time (median, interleaved at each length) and memory of the three variants against T."""
    fns, rows = variants(), []
    for f in fns.values():
        _step(f, 16)()  # load (or compile) the kernels before anything is traced
    for T in lengths:
        names = runs(T)
        memory = {name: traced(fns[name], T) for name in names}  # also the warm-up
        n = repeats or repeats_at(T)
        times = interleaved({name: _step(fns[name], T) for name in names}, n, warmup=0)
        for name in names:
            rows.append(dict(T=T, variant=name, ms=1e3 * times[name], repeats=n,
                             kept_mib=memory[name][0] / 2**20, peak_mib=memory[name][1] / 2**20))
    result = {"B": B, "H": H, "D": D, "rows": rows, "ratios": ratios(rows)}
    print(format_table(result))
    return result


def ratios(rows: list[dict]) -> dict:
    """Per T: tiled / fused time and peak memory, where both ran."""
    by = {(r["T"], r["variant"]): r for r in rows}
    return {T: {"time": by[T, "tiled"]["ms"] / by[T, "fused"]["ms"],
                "peak": by[T, "tiled"]["peak_mib"] / by[T, "fused"]["peak_mib"]}
            for T, name in by if name == "tiled" and (T, "fused") in by}


def format_table(result: dict) -> str:
    by = {(r["T"], r["variant"]): r for r in result["rows"]}
    lengths = sorted({T for T, _ in by})

    def cell(T, variant, key, width):
        return f"{by[T, variant][key]:{width}.1f}" if (T, variant) in by else f"{'-':>{width}}"

    def ratio(T, key, width, digits):
        r = result["ratios"].get(T)
        return f"{r[key]:{width - 1}.{digits}f}x" if r else f"{'-':>{width}}"

    lines = [f"attention vs sequence length, B = {B}, H = {H}, D = {D}, float32, no mask, "
             "forward + backward (median, interleaved at each T; peak by tracemalloc):",
             f"{'T':>6} {'composed ms':>12} {'fused ms':>10} {'tiled ms':>10} {'tiled/fused':>12}"
             f" {'composed MiB':>13} {'fused MiB':>10} {'tiled MiB':>10} {'tiled/fused':>12}"]
    for T in lengths:
        lines.append(f"{T:>6} {cell(T, 'composed', 'ms', 12)} {cell(T, 'fused', 'ms', 10)} "
                     f"{cell(T, 'tiled', 'ms', 10)} {ratio(T, 'time', 12, 2)} "
                     f"{cell(T, 'composed', 'peak_mib', 13)} {cell(T, 'fused', 'peak_mib', 10)} "
                     f"{cell(T, 'tiled', 'peak_mib', 10)} {ratio(T, 'peak', 12, 3)}")
    skipped = [f"{v} at T = {T} ({SQUARES_KEPT[v] * 4 * B * H * T * T / 2**30:.1f} GiB of scores)"
               for T in lengths for v in SQUARES_KEPT if (T, v) not in by]
    if skipped:
        lines.append(f"  not run (kept [B, H, T, T] arrays over {MEMORY_LIMIT / 2**30:.0f} GiB): "
                     + ", ".join(skipped))
    return "\n".join(lines)
