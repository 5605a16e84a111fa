"""Benchmarks: ratios measured side by side in one run (A B C, B C A, ..., medians).

    tinytransformer bench                 # everything, about half a minute on 2 cores
    tinytransformer bench step --json bench.json

The machine is shared and noisy, so only ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def interleaved(fns: dict, repeats: int = 50, warmup: int = 5) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternation.

    The order rotates from one round to the next (A B C, B C A, C A B, ...), so that each
    function follows each other one equally often: a call can slow the next one down (PyTorch's
    OpenMP threads keep spinning for a while after its step, taking a core from the next BLAS
    call), and that cost must not always fall on the same function.
    """
    names = list(fns)
    for _ in range(warmup):
        for f in fns.values():
            f()
    times = {name: [] for name in fns}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}


def engine(repeats: int = 200) -> dict:
    """Forward + backward of a 2-layer MLP on x [64, 128]: the engine vs NumPy by hand."""
    from . import Tensor

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 128)).astype(np.float32)
    w1, w2 = (rng.standard_normal(s).astype(np.float32) * 0.1 for s in [(128, 256), (256, 128)])
    b1, b2 = np.zeros(256, np.float32), np.zeros(128, np.float32)

    def by_hand():
        h = x @ w1 + b1  # [64, 256]
        a = np.maximum(h, 0)
        y = a @ w2 + b2  # [64, 128]
        loss = 0.5 * np.sum(y * y)
        gy = y  # dL/dy
        gw2, gb2, ga = a.T @ gy, gy.sum(0), gy @ w2.T
        gh = ga * (h > 0)
        gw1, gb1 = x.T @ gh, gh.sum(0)
        return loss, gw1, gb1, gw2, gb2

    params = [Tensor(p, requires_grad=True) for p in (w1, b1, w2, b2)]
    tx = Tensor(x)

    def engine_step():
        W1, B1, W2, B2 = params
        for p in params:
            p.grad = None
        y = (tx @ W1 + B1).relu() @ W2 + B2
        loss = 0.5 * (y * y).sum()
        loss.backward()
        return loss

    reference = by_hand()
    engine_step()
    for p, g in zip(params, reference[1:]):
        np.testing.assert_allclose(p.grad, g, rtol=1e-3, atol=1e-3)  # same computation
    t = interleaved({"numpy by hand": by_hand, "tinytransformer": engine_step}, repeats)
    r = {"numpy_us": t["numpy by hand"] * 1e6, "engine_us": t["tinytransformer"] * 1e6,
         "ratio": t["tinytransformer"] / t["numpy by hand"]}
    print(f"engine overhead, 2-layer MLP fwd+bwd on [64, 128] (float32, median of {repeats}):\n"
          f"  NumPy by hand {r['numpy_us']:8.1f} us   tinytransformer {r['engine_us']:8.1f} us"
          f"   ratio {r['ratio']:.2f}x")
    return r


def machine() -> str:
    import os

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_version()}")


def kernels() -> list[dict]:
    """Each kernel, NumPy reference vs Numba, at the reference model's sizes."""
    from .kernels.benchmark import benchmark_kernels, format_table

    rows = benchmark_kernels()
    print("kernels, NumPy vs Numba (float32, median, interleaved):\n" + format_table(rows))
    return rows


def step(repeats: int = 21) -> dict:
    """The reference training step: NumPy backend, Numba backend, PyTorch; dropout 0.1 and 0;
    and the time of its matrix products alone."""
    from . import bench_step as bs

    torch = _torch_threads()
    flops, peak = bs.matmul_flops()["step"], bs.matmul_peak()
    out = {"matmul_gflop_per_step": flops / 1e9, "blas_peak_gflops": peak}
    for p in (0.1, 0.0):
        fns = {"numpy": bs.ours(p, "numpy"), "numba": bs.ours(p, "numba")}
        if torch:
            fns["pytorch"] = bs.pytorch(p)
        t = interleaved(fns, repeats, warmup=3)
        out[f"dropout {p}"] = {k: v * 1e3 for k, v in t.items()}
        print(f"training step, reference config, dropout {p} "
              f"(ms, median of {repeats}, interleaved):")
        for name, sec in t.items():
            print(f"  {name:8s} {sec * 1e3:7.1f} ms   {flops / sec / 1e9:5.1f} GFLOP/s "
                  f"({flops / sec / 1e9 / peak:4.0%} of the measured BLAS peak {peak:.0f})")
        print(f"  numba vs numpy: {t['numpy'] / t['numba']:.2f}x faster" +
              (f";  numba / pytorch: {t['numba'] / t['pytorch']:.2f}" if torch else
               ";  PyTorch not installed (pip install torch) for the comparison"))
    out["blas_ms"] = bs.blas_seconds() * 1e3
    print(f"  the step's {len(bs.linear_shapes())} matrix products and their gradients alone, "
          f"which both backends leave to BLAS: {out['blas_ms']:.1f} ms")
    return out


def _torch_threads() -> bool:
    try:
        import torch
    except ImportError:
        return False
    torch.set_num_threads(2)  # the same two threads NumPy's BLAS uses here
    return True


def decode(repeats: int = 5) -> dict:
    """Greedy decoding of 64 sentences to 30 tokens, with and without the key/value cache."""
    from . import bench_step as bs
    from .decode import greedy
    from .models import Transformer, TransformerConfig

    model = Transformer(TransformerConfig(src_vocab=bs.V, tgt_vocab=bs.V, d_model=bs.C,
                                          num_heads=bs.H, d_ff=bs.F, dropout=0.0))
    src = bs.reference_batch()[0]
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


_STARTUP = """
import time; t0 = time.perf_counter()
from tinytransformer.bench_step import ours
ours(0.1, "numba")()  # one training step: every kernel `train` uses
print(time.perf_counter() - t0)
"""


def compile_time() -> dict:
    """Seconds to import and run one training step in a new process: cold and warm Numba cache."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [float(subprocess.run([sys.executable, "-c", _STARTUP], env=env, check=True,
                                     capture_output=True, text=True).stdout.split()[-1])
                for _ in range(2)]
    r = {"cold_s": runs[0], "warm_s": runs[1]}
    print(f"start-up to the end of one training step, new process (Numba backend):\n"
          f"  cold cache {r['cold_s']:.1f} s (compiles every kernel)"
          f"   warm cache {r['warm_s']:.1f} s")
    return r


SECTIONS = {"engine": engine, "kernels": kernels, "step": step, "decode": decode,
            "compile": compile_time}



def add_arguments(parser) -> None:
    parser.add_argument("what", nargs="*", type=_section,
                        help=f"which benchmarks, of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--json", help="also write the results to this JSON file")


def _section(name: str) -> str:
    # a type check, not choices=: argparse would test an empty list against the choices
    if name not in SECTIONS:
        raise argparse.ArgumentTypeError(f"unknown section {name!r}; choose from "
                                         f"{', '.join(SECTIONS)}")
    return name


def run(args) -> int:
    results = {"machine": machine()}
    for name in args.what or SECTIONS:
        results[name] = SECTIONS[name]()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m tinytransformer.bench", description=__doc__)
    add_arguments(_parser)
    raise SystemExit(run(_parser.parse_args()))
