"""SmolLM2-135M-Instruct on the CPU: decoding and prefill speed, memory and start-up, for our two
inference paths and for transformers (eager PyTorch) on the same GGUF file.

    numpy         FastLlama, weights de-quantised once to float32, products by BLAS
    numba         FastLlama, weights kept in the file's 4-bit blocks, products by Numba kernels
    transformers  LlamaForCausalLM loaded from the same GGUF (float32), torch eager

Decode: 16 greedy tokens after a context of 48 (the cache cut back to 48 before each call),
the LM head on the last position only; 16 in a row, because a thread pool that keeps spinning
after one library's call (OpenBLAS's, torch's) slows the next call of another, and a run of
tokens is what generation is. Prefill: a 256-token prompt in one forward, logits for its last
position only (transformers: logits_to_keep=1). Interleaved (A B C, B C A, ...), medians.
Threads: one for BLAS and one for torch unless $TINYTRANSFORMER_THREADS says otherwise (the
commands' default, kernels/blas_threads.py says why); the Numba kernels are serial.
Memory: the peak resident set (VmHWM) of a new process that loads one path, reads 256 tokens
and decodes 32. Start-up: a new `tinytransformer generate --max-new-tokens 1` to its first
answer byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

from .timing import interleaved

CONTEXT, PREFILL, RUN = 48, 256, 16

_MEMORY = """
import sys, numpy as np
from tinytransformer.bench.llm import _load
model, step = _load(sys.argv[1])
ids = np.random.default_rng(0).integers(0, 49152, (1, 256))
step(ids, new=True)
for t in range(32):
    step(ids[:, t:t + 1])
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])  # kB, this process's
"""  # (not getrusage's ru_maxrss: Linux carries it over from the parent through fork and exec)


def threads() -> int:
    """Threads for BLAS and for torch: the `chat` / `generate` default (1, and our Numba kernels
    are serial), or $TINYTRANSFORMER_THREADS."""
    return int(os.environ.get("TINYTRANSFORMER_THREADS", 1))


def _load(path_name: str):
    """(model, step): step(ids [1, T], new=False) runs T tokens after the cache (a new cache if
    `new`) and returns the last position's logits."""
    from ..kernels.blas_threads import set_blas_threads
    from ..nn import KVCache
    from ..pretrained import model_path

    set_blas_threads(threads())
    if path_name == "transformers":
        return _load_transformers(model_path("smollm2"))
    from ..models.llama_fast import FastLlama

    model = FastLlama.from_gguf(model_path("smollm2"), "q4" if path_name == "numba" else "float32")
    state = {"cache": KVCache()}

    def step(ids, new=False, keep=None):
        if new:
            state["cache"] = KVCache()
        if keep is not None:
            state["cache"].offset = keep  # positions after `keep` are overwritten
        return model(ids, state["cache"], last_only=True)[0, -1]

    return model, step


def _load_transformers(path):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model comes from the file, never a hub
    import torch
    import transformers

    torch.set_num_threads(threads())
    model = transformers.AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    state = {"cache": None}

    @torch.no_grad()
    def step(ids, new=False, keep=None):
        cache = None if new else state["cache"]
        if keep is not None and cache.get_seq_length() > keep:
            cache.crop(keep - cache.get_seq_length())
        out = model(torch.from_numpy(ids), cache=cache, use_cache=True, logits_to_keep=1)
        state["cache"] = out.cache if hasattr(out, "cache") else out.past_key_values
        return out.logits[0, -1].numpy()

    return model, step


def speeds(paths, repeats: int = 5) -> dict:
    """Decode tokens/s and prefill seconds per path, interleaved."""
    steps = {name: _load(name)[1] for name in paths}
    ids = np.random.default_rng(0).integers(0, 49152, (1, PREFILL))
    for step in steps.values():
        step(ids[:, :CONTEXT], new=True)
    decode = interleaved({n: (lambda s=s: _greedy_run(s, ids)) for n, s in steps.items()},
                         repeats, warmup=1)
    prefill = interleaved({n: (lambda s=s: s(ids, new=True)) for n, s in steps.items()},
                          repeats=3, warmup=1)
    return {n: {"decode_tokens_per_s": RUN / decode[n], "prefill_256_s": prefill[n]}
            for n in paths}


def _greedy_run(step, ids) -> list[int]:
    """RUN greedy tokens after the first CONTEXT of `ids`, whose cache is already there."""
    out, keep = [], CONTEXT - 1
    token = ids[:, keep:CONTEXT]
    for _ in range(RUN):
        out.append(int(step(token, keep=keep).argmax()))
        token, keep = np.array([out[-1:]]), None
    return out


def peak_memory(path_name: str) -> int:
    """Peak RSS in bytes of a new process that loads `path_name`, prefills 256 and decodes 32."""
    out = subprocess.run([sys.executable, "-c", _MEMORY, path_name], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1]) * 1024


def startup() -> list[float]:
    """Seconds from starting `tinytransformer generate` to its first byte of answer, twice."""
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        with subprocess.Popen([sys.executable, "-m", "tinytransformer.cli", "generate",
                               "--max-new-tokens", "1", "Hi"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) as proc:
            proc.stdout.read(1)
            runs.append(time.perf_counter() - t0)
            proc.wait()
    return runs


def measure() -> dict:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        paths = ["numpy", "numba", "transformers"]
    except ImportError:
        paths = ["numpy", "numba"]
    load = os.getloadavg()[0]
    r = {"threads": threads(), "load_average": load, **speeds(paths)}
    for name in paths:
        r[name]["peak_rss_mb"] = peak_memory(name) / 2**20
    r["startup_s"] = startup()
    print(f"SmolLM2-135M-Instruct, {r['threads']} thread(s) for BLAS and torch, load average "
          f"{load:.1f} -> {os.getloadavg()[0]:.1f} (medians of interleaved runs):")
    print(f"  {'path':28s} {'decode tokens/s':>16s} {'prefill 256 tokens':>19s} {'peak RSS':>10s}")
    names = {"numpy": "numpy (float32, BLAS)", "numba": "numba (4-bit blocks)",
             "transformers": "transformers eager (torch)"}
    for name in paths:
        s = r[name]
        print(f"  {names[name]:28s} {s['decode_tokens_per_s']:16.1f} "
              f"{s['prefill_256_s']:17.2f} s {s['peak_rss_mb']:7.0f} MB")
    print(f"  start-up to the first token (tinytransformer generate): {r['startup_s'][1]:.1f} s "
          f"with warm caches ({r['startup_s'][0]:.1f} s the first time)")
    return r
