"""Our SmolLM2 against Hugging Face transformers on the same GGUF file, on 20 chat prompts:

    python -m tinytransformer.pretrained.compare            # about 15 minutes on 2 cores
    python -m tinytransformer.pretrained.compare --prompts 3 --new-tokens 16

For each prompt (a user message in the chat template) and each of our paths:
  - logits over the prompt: max |ours - theirs| / (max - min of theirs), both float32;
  - greedy continuation of --new-tokens tokens (end-of-turn ignored, as transformers is told
    with eos_token_id=None): identical to transformers', or the first position that differs.
Our paths: `llama`, the autograd model (`Llama.from_gguf`, float32); `float32` and `q4`, the
inference model `FastLlama` with de-quantised weights and with the file's 4-bit blocks. Needs
torch, transformers, accelerate and gguf (the test extra); never touches a model hub.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

PROMPTS = [
    "What is the capital of France?", "Write a haiku about the sea.",
    "Explain photosynthesis in two sentences.", "What is 17 times 23?",
    "Give me three tips for learning to cook.", "Translate 'good morning' into Spanish.",
    "Write a Python function that reverses a string.", "Who wrote Romeo and Juliet?",
    "What causes the seasons on Earth?", "Summarise the plot of Cinderella.",
    "List the planets of the solar system.", "How do I make a cup of tea?",
    "What is a transformer in machine learning?", "Tell me a joke about computers.",
    "你好，请介绍一下你自己。", "Why is the sky blue?",
    "What is the difference between a list and a tuple in Python?",
    "Write a short story about a robot who learns to paint.",
    "How many days are there in a leap year?", "Give me a recipe for pancakes.",
]


def _ours(path, names):
    from ..models import Llama
    from ..models.llama_fast import FastLlama

    make = {"llama": lambda: Llama.from_gguf(path),
            "float32": lambda: FastLlama.from_gguf(path, "float32"),
            "q4": lambda: FastLlama.from_gguf(path, "q4")}
    return {name: make[name]() for name in names}


def _logits(model, ids: np.ndarray) -> np.ndarray:
    """[1, T] -> float32 logits [T, V], from either of our models."""
    from ..nn import Module, inference

    if isinstance(model, Module):
        with inference(model):
            return model(ids).data[0]
    return model(ids)[0]


def _greedy(model, ids: np.ndarray, n: int) -> list[int]:
    """n greedy tokens after ids [1, T], with a KV cache, never stopping early."""
    from ..generate import generate
    from ..nn import KVCache

    if not hasattr(model, "blocks"):  # the autograd Llama: generate() drives it
        return generate(model, ids, n, temperature=0)[0]
    cache, out = KVCache(), []
    logits = model(ids, cache, last_only=True)
    for _ in range(n):
        out.append(int(logits[0, -1].argmax()))
        logits = model(np.array([out[-1:]]), cache, last_only=True)
    return out


def _first_difference(a: list[int], b: list[int]) -> int | None:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)


def compare(n_prompts: int = 20, new_tokens: int = 64, paths=("llama", "float32", "q4")):
    """Print one row per prompt and a summary; return the summary as a dict."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model comes from the file, never a hub
    import torch
    import transformers

    from .smollm2 import load_smollm2

    llm = load_smollm2()
    t0 = time.perf_counter()
    theirs = transformers.AutoModelForCausalLM.from_pretrained(
        llm.path.parent, gguf_file=llm.path.name, dtype=torch.float32).eval()
    ours = _ours(llm.path, paths)
    print(f"loaded in {time.perf_counter() - t0:.0f} s; torch threads {torch.get_num_threads()}")
    errors, same = {p: [] for p in paths}, {p: 0 for p in paths}
    for n, prompt in enumerate(PROMPTS[:n_prompts]):
        ids = np.array([llm.tokenizer.encode(_template(prompt, llm))])
        row = []
        for p, (err, diff) in _one_prompt(theirs, ours, ids, new_tokens).items():
            errors[p].append(err)
            same[p] += diff is None
            row.append(f"{p} {err:.1e} {'same' if diff is None else f'differs at {diff}'}")
        print(f"{n + 1:2d} T={ids.shape[1]:3d}  " + " | ".join(row) + f"  {prompt[:40]!r}",
              flush=True)
    summary = {p: {"max_rel_err": float(max(errors[p])), "greedy_identical": same[p],
                   "prompts": len(errors[p])} for p in paths}
    for p, s in summary.items():
        print(f"{p}: max |ours - transformers| / range {s['max_rel_err']:.2e}; greedy "
              f"{new_tokens} tokens identical on {s['greedy_identical']}/{s['prompts']} prompts")
    return summary


def _one_prompt(theirs, ours: dict, ids: np.ndarray, new_tokens: int) -> dict:
    """{our path: (max |diff| / range of their logits, first differing greedy token or None)}"""
    import torch

    with torch.no_grad():
        ref = theirs(torch.from_numpy(ids)).logits.numpy()[0]
        ref_greedy = theirs.generate(torch.from_numpy(ids), max_new_tokens=new_tokens,
                                     do_sample=False, eos_token_id=None,
                                     pad_token_id=0)[0, ids.shape[1]:].tolist()
    return {p: (np.abs(_logits(model, ids) - ref).max() / (ref.max() - ref.min()),
                _first_difference(_greedy(model, ids, new_tokens), ref_greedy))
            for p, model in ours.items()}


def _template(prompt: str, llm) -> str:
    from ..tokenizers import apply_chat_template

    return apply_chat_template([{"role": "user", "content": prompt}],
                               default_system=llm.default_system)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tinytransformer.pretrained.compare",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--prompts", type=int, default=len(PROMPTS), help="how many of the 20")
    p.add_argument("--new-tokens", type=int, default=64, help="greedy tokens per prompt")
    p.add_argument("--paths", default="llama,float32,q4", help="ours, comma-separated")
    args = p.parse_args(argv)
    compare(args.prompts, args.new_tokens, tuple(args.paths.split(",")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
