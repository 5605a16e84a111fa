"""SmolLM2-135M-Instruct, the real model: our float32 `Llama.from_gguf` against transformers
loading the same GGUF file (its own reader and de-quantiser, `gguf` from PyPI). Logits on
three token sequences and greedy continuations; the same for the inference model FastLlama with
the file's 4-bit blocks (what `tinytransformer chat` runs). Skipped when the file is absent
(`tinytransformer fetch smollm2`); about a minute, most of it transformers' loading."""

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never the hub: the model comes from the file

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")  # transformers reads GGUF files with it

from tinytransformer.generate import generate  # noqa: E402
from tinytransformer.models import Llama  # noqa: E402

# Token ids from transformers' tokenizer for this file (the project's own tokenizer is tested
# elsewhere), obtained with
#   tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
#   tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
#                           add_generation_prompt=True)["input_ids"]
#   tok("The quick brown fox jumps over the lazy dog.")["input_ids"]
CHAT = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411,
        407, 19712, 8182, 2, 198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1,
        520, 9531, 198]
FOX = [504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 30]
SEQUENCES = {"chat": CHAT, "fox": FOX,
             "random ids": np.random.default_rng(0).integers(0, 49152, 24).tolist()}
TOL = 1e-3  # max |ours - theirs| / (max - min of their logits), both in float32

pytestmark = pytest.mark.slow  # about a minute on a quiet machine, most of it transformers' load


def gguf_path():
    try:
        from tinytransformer.pretrained import model_path
        return model_path("smollm2")
    except Exception as e:  # not fetched (or the reader is absent): say how to get it
        pytest.skip(f"SmolLM2 GGUF not available ({e}); run `tinytransformer fetch smollm2`")


@pytest.fixture(scope="module")
def models():
    path = gguf_path()
    torch.set_num_threads(2)
    ours = Llama.from_gguf(path)  # float32
    theirs = transformers.AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    return ours, theirs


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_logits_match_transformers(models, name):
    ours, theirs = models
    ids = np.array([SEQUENCES[name]])
    logits = ours(ids).data  # [1, T, V]
    with torch.no_grad():
        ref = theirs(torch.from_numpy(ids)).logits.numpy()
    assert logits.dtype == np.float32 and logits.shape == ref.shape
    err = np.abs(logits - ref).max() / (ref.max() - ref.min())
    print(f"\n{name}: T={ids.shape[1]}, max |diff| / (logits max - min) = {err:.2e}, "
          f"argmax agreement {np.mean(logits.argmax(-1) == ref.argmax(-1)):.3f}")
    assert err <= TOL


@pytest.mark.parametrize("name", ["chat", "fox"])
def test_greedy_continuations_match_transformers(models, name):
    ours, theirs = models
    prompt = np.array([SEQUENCES[name]])
    mine = generate(ours, prompt, max_new_tokens=16, temperature=0)[0]  # no eos: all 16
    with torch.no_grad():
        ref = theirs.generate(torch.from_numpy(prompt), max_new_tokens=16, do_sample=False,
                              eos_token_id=None)[0, prompt.shape[1]:].tolist()
    print(f"\n{name}: {mine}")
    assert mine == ref


@pytest.fixture(scope="module")
def fast_q4():
    from tinytransformer.models.llama_fast import FastLlama

    return FastLlama.from_gguf(gguf_path(), "q4")


@pytest.mark.parametrize("name", ["chat", "fox"])
def test_4bit_inference_model_matches_transformers(models, fast_q4, name):
    """Logits over the prompt, and 16 greedy tokens decoded one at a time with the KV cache
    (the 4-bit kernels then multiply one row at a time)."""
    from tinytransformer.nn import KVCache

    _, theirs = models
    ids = np.array([SEQUENCES[name]])
    with torch.no_grad():
        ref = theirs(torch.from_numpy(ids)).logits.numpy()
        greedy = theirs.generate(torch.from_numpy(ids), max_new_tokens=16, do_sample=False,
                                 eos_token_id=None)[0, ids.shape[1]:].tolist()
    assert np.abs(fast_q4(ids) - ref).max() / (ref.max() - ref.min()) <= TOL
    cache, mine = KVCache(), []
    logits = fast_q4(ids, cache, last_only=True)
    for _ in range(16):
        mine.append(int(logits[0, -1].argmax()))
        logits = fast_q4(np.array([mine[-1:]]), cache, last_only=True)
    assert mine == greedy
