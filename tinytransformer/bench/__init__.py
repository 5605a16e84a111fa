"""Benchmarks: ratios measured side by side in one run (A B C, B C A, ..., medians).

    tinytransformer bench                 # everything, about half a minute on 2 cores
    tinytransformer bench step --json bench.json

The machine is shared and noisy, so only ratios measured in the same run mean anything. Each
section is a module with a `measure()` that prints its table and returns its numbers:

    engine    engine.py    autograd overhead on a small MLP
    kernels   kernels.py   each NumPy kernel against its Numba twin; the compiled matmul vs BLAS
    step      step.py      the reference training step (and its configuration, FLOPs, products)
    decode    decode.py    greedy decoding with and without the KV cache
    attention attention.py composed, fused and tiled attention against T (to 8192): time, memory
    compile   startup.py   a new process to the end of one training step, cold and warm cache
    llm       llm.py       SmolLM2: decode, prefill, memory, start-up (ours and transformers);
                           only when asked for by name (it needs the fetched weights)
    tokenizers tokenizers.py  BPE training and encoding on the fortune files (2 MB zh, en);
                           only when asked for by name (it needs Debian's fortune packages)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform

from .timing import interleaved

__all__ = ["SECTIONS", "add_arguments", "interleaved", "machine", "run"]

# section name -> module; imported when it runs
SECTIONS = {"engine": "engine", "kernels": "kernels", "step": "step", "decode": "decode",
            "attention": "attention", "compile": "startup", "llm": "llm",
            "tokenizers": "tokenizers"}
DEFAULT = [name for name in SECTIONS if name not in ("llm", "tokenizers")]  # `bench` alone


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_version()}")


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
    for name in args.what or DEFAULT:
        results[name] = importlib.import_module(f".{SECTIONS[name]}", __name__).measure()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0
