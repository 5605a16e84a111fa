"""Chapter 09: does the summariser learn to bind the object to its action? Seeds x data mixes.

    OPENBLAS_NUM_THREADS=1 python figures/09_binding.py figures/09_binding.json

Trains the chapter's model (d_model 64, 2 + 2 layers, batch 64, noam warm-up 200) on two
training sets of 4000 passages: "chapter", the chapter's own (1 passage in 5 names a second,
wanted object), and "half" (half of them do), for seeds 0, 1, 2; every 500 steps it decodes
300 held-out passages that name a wanted object and 200 that do not, and records the share of
exact summaries and of right object nouns. A run already in the file is skipped, so an
interrupted sweep resumes. The six runs took 3-11 minutes each on the shared 2-core machine.
This is the script that made figures/09_binding.json (commit 595339e kept it inside the JSON),
with only its formatting changed for the linter and the two descriptive keys it now writes.
"""
import json
import os
import random
import re
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

from tinytransformer import functional as F
from tinytransformer.data import PAD_ID, Vocab, detokenize_en, make_batches, pad, tokenize_en
from tinytransformer.data.summaries import (
    ACTIONS,
    WHEN,
    held_out_pairs,
    sample_passage,
    summary_splits,
)
from tinytransformer.decode import greedy
from tinytransformer.models import Transformer, TransformerConfig
from tinytransformer.optim import AdamW, clip_grad_norm, noam_lr

OUT = sys.argv[1]
splits = summary_splits(seed=0, n_train=4000, n_valid=200, n_test=200)
train_texts = {p.text for p in splits["train"]}
held = held_out_pairs(0)
eval_pairs = sorted(held["valid"] | held["test"])
train_pairs = sorted({(p.name, p.job) for p in splits["train"]})


def forced(rng, pairs, n, wanted, avoid):
    out, seen = [], set(avoid)
    while len(out) < n:
        p = sample_passage(rng, *rng.choice(pairs))
        if ("wanted" in p.text) == wanted and p.text not in seen:
            seen.add(p.text)
            out.append(p)
    return out


rng = random.Random("ch09-binding-eval")
eval_two = forced(rng, eval_pairs, 300, True, train_texts)
eval_one = forced(rng, eval_pairs, 200, False, train_texts)
# the mix: the chapter's 4000 passages, with enough one-object ones replaced so that half name a
# wanted one
base = splits["train"]
n_two = sum("wanted" in p.text for p in base)
extra = forced(random.Random("ch09-binding-mix"), train_pairs, 2000 - n_two, True,
               train_texts | {p.text for p in eval_two + eval_one})
ones = [p for p in base if "wanted" not in p.text]
mix = [p for p in base if "wanted" in p.text] + ones[:2000] + extra
assert len(mix) == 4000
DATA = {"chapter": base, "half": mix}
print("second-object share:",
      {k: np.mean(["wanted" in p.text for p in v]) for k, v in DATA.items()})

src_vocab = Vocab.build(tokenize_en(p.text) for p in base + extra)
tgt_vocab = Vocab.build(tokenize_en(p.summary) for p in base + extra)


def encode(ps):
    return ([src_vocab.encode(tokenize_en(p.text)) for p in ps],
            [tgt_vocab.encode(tokenize_en(p.summary)) for p in ps])


TEMPLATE = re.compile(rf"^(\w+) the (\w+) ({'|'.join(ACTIONS)}) an? (?:(\w+) )?(\w+) "
                      rf"({'|'.join(WHEN)})\.$")


def noun(s):
    m = TEMPLATE.match(s)
    return m.group(5) if m else None


def score(model):
    out = {}
    for name, ps in (("two", eval_two), ("one", eval_one)):
        outs = [detokenize_en(tgt_vocab.decode(i)) for i in greedy(model, pad(encode(ps)[0]))]
        out[f"exact_{name}"] = float(np.mean([o == p.summary for o, p in zip(outs, ps)]))
        out[f"noun_{name}"] = float(np.mean([noun(o) == noun(p.summary) for o, p in zip(outs, ps)]))
    return out


def run(data, seed, steps, every=500):
    config = TransformerConfig(src_vocab=len(src_vocab), tgt_vocab=len(tgt_vocab), d_model=64,
                               num_heads=4, d_ff=256, num_encoder_layers=2, num_decoder_layers=2,
                               dropout=0.1, seed=seed)
    model = Transformer(config)
    src, tgt = encode(DATA[data])
    opt = AdamW(model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.0)
    rng, n, curve, t0 = np.random.default_rng(seed), 0, [], time.perf_counter()
    while n < steps:
        for b in make_batches(src, tgt, batch_size=64, rng=rng)[: steps - n]:
            loss = F.cross_entropy(model(b.src, b.tgt_in), b.tgt_out, ignore_index=PAD_ID,
                                   label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            clip_grad_norm(model.parameters(), 1.0)
            n += 1
            opt.lr = noam_lr(n, 64, 200)
            opt.step()
            if n % every == 0:
                curve.append({"step": n, **score(model)})
                print(data, seed, curve[-1], f"{time.perf_counter() - t0:.0f} s", flush=True)
    return {"data": data, "seed": seed, "steps": steps, "seconds": time.perf_counter() - t0,
            "curve": curve}


WHAT = ("chapter 09: exact summaries and object right on 300 held-out passages that name a "
        "second (wanted) object and 200 that do not; training data 'chapter' (the chapter's 4000 "
        "passages) or 'half' (half of them name a wanted object); d_model 64, 2+2 layers, batch "
        "64, noam warm-up 200; greedy decoding")
HOW = ("python figures/09_binding.py figures/09_binding.json, one process, OPENBLAS_NUM_THREADS=1, "
       "on the shared 2-core machine (seconds are wall time under load)")
results = json.load(open(OUT))["runs"] if os.path.exists(OUT) else []
plan = [("half", 0, 2000), ("chapter", 0, 4000), ("half", 1, 2000), ("chapter", 1, 4000),
        ("half", 2, 2000), ("chapter", 2, 4000)]
for data, seed, steps in plan:
    if any(r["data"] == data and r["seed"] == seed for r in results):
        continue
    results.append(run(data, seed, steps))
    json.dump({"what": WHAT, "eval_two": len(eval_two), "eval_one": len(eval_one),
               "runs": results, "script": "figures/09_binding.py", "how": HOW},
              open(OUT, "w"), indent=1)
