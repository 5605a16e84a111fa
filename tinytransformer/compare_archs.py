"""Transformer, RNN and RNN + attention at equal wall-clock time: §6.1's claim, measured.

    python -m tinytransformer.compare_archs --data toy hsk tatoeba-cmn-eng.tsv \\
        --minutes 0.8 --seeds 3 --out figures/08_compare.json

Every run gets the same `minutes` of training (the trainer's own clock; its final validation
is not counted), the same data, seed, batch size, schedule and d_model (64 by default: more
steps fit in a short budget), and is then scored by
greedy decoding of the first `test_sentences` test pairs (BLEU tokenised for the target, chrF).
Runs go seed by seed and, within a seed, architecture after architecture for each corpus, so a
change of machine load falls on all three alike. HSK runs also give BLEU per level and, for
models with attention, the best cross-attention head against the dictionary alignments.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from .data.alignments import head_scores, hsk_links
from .data.hsk import by_level
from .train import TrainConfig, Trainer
from .translate import ARCHITECTURES, bleu, chrf, forced_cross_attention, translate


def corpus_name(data: str) -> str:
    return data if data in ("toy", "hsk") else Path(data).stem


def run_one(data: str, arch: str, seed: int, minutes: float | None, test_sentences: int,
            work: Path, d_model: int = 64, steps: int = 10**9) -> dict:
    """Train one model for `minutes` (or `steps`) and score it on the test split."""
    cfg = TrainConfig(data=None if data == "toy" else data, arch=arch, seed=seed,
                      minutes=minutes, steps=steps, eval_every=10**9, eval_sentences=50,
                      model={"d_model": d_model})
    trainer = Trainer(cfg, work / f"{corpus_name(data)}_{arch}_{seed}", log=lambda *a: None)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.run(progress=False)
    corpus, lang = trainer.corpus, cfg.tgt_lang
    test = corpus.splits["test"][:test_sentences]
    hyps = translate(trainer.model, corpus.vocabs, [src for src, _ in test])
    refs = [tgt for _, tgt in test]
    out = {"data": corpus_name(data), "arch": arch, "seed": seed, "minutes": minutes,
           "steps": trainer.step, "parameters": trainer.model.num_parameters(),
           "valid_loss": trainer.history[-1]["valid_loss"], "test_bleu": bleu(hyps, refs, lang),
           "test_chrf": chrf(hyps, refs), "examples": list(zip(*zip(*test[:5]), hyps[:5]))}
    if corpus.records:
        records = corpus.records["test"][:test_sentences]
        out["bleu_by_level"] = {level: bleu([h for h, _ in rows], [r for _, r in rows], lang)
                                for level, rows in by_level(records, list(zip(hyps, refs))).items()}
        if arch != "rnn":
            scores = head_scores(forced_cross_attention(trainer.model, corpus.vocabs, test),
                                 hsk_links(records, corpus.sides))
            out["alignment"] = {"best_aer": float(scores["aer"].min()),
                                "best_share": float(scores["share"].max()),
                                "even": scores["even"], "aer": scores["aer"].tolist()}
    return out


def compare(datas: list[str], seeds: int, minutes: float, test_sentences: int = 300,
            d_model: int = 64, log=print) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory(prefix="compare-archs-") as tmp:
        for arch in ARCHITECTURES:  # compile the kernels first: no run pays for the JIT
            run_one("toy", arch, 0, None, 5, Path(tmp) / "warm-up", d_model, steps=2)
        for seed in range(seeds):
            for data in datas:
                for arch in ARCHITECTURES:
                    t0 = time.perf_counter()
                    r = run_one(data, arch, seed, minutes, test_sentences, Path(tmp), d_model)
                    results.append(r)
                    log(f"{r['data']:>8} {arch:>13} seed {seed}: {r['steps']:>5} steps, "
                        f"test BLEU {r['test_bleu']:5.1f}, chrF {r['test_chrf']:5.1f} "
                        f"({time.perf_counter() - t0:.0f} s)")
    return results


def summary(results: list[dict], key: str = "test_bleu") -> dict:
    """{data: {arch: (mean, std, n)}} of `key` over seeds (std with ddof=0 over the seeds)."""
    out: dict = {}
    for r in results:
        out.setdefault(r["data"], {}).setdefault(r["arch"], []).append(r[key])
    return {d: {a: (float(np.mean(v)), float(np.std(v)), len(v)) for a, v in arches.items()}
            for d, arches in out.items()}


def write_grid(path: Path, grid: dict, results: list[dict], append: bool = False) -> None:
    """Write `results` to `path`; with `append`, keep the runs already there that these do not
    replace (same data, architecture and seed), and add this pass to the file's 'passes'."""
    old = json.loads(path.read_text(encoding="utf-8")) if append and path.exists() else {}
    new_keys = {(r["data"], r["arch"], r["seed"]) for r in results}
    kept = [r for r in old.get("runs", []) if (r["data"], r["arch"], r["seed"]) not in new_keys]
    first = {k: v for k, v in old.items() if k != "runs"} | {
        "data": sorted({r["data"] for r in old.get("runs", [])})}  # a file written without passes
    passes = old.get("passes", [first] if old else [])
    out = {**grid, "passes": [*passes, grid], "runs": kept + results}
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tinytransformer.compare_archs",
                                description=__doc__.split("\n")[0])
    p.add_argument("--data", nargs="+", default=["toy"], help="toy, hsk and/or TSV files")
    p.add_argument("--minutes", type=float, default=1.0, help="training time of each run")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--test-sentences", type=int, default=300)
    p.add_argument("--d-model", type=int, default=64, help="every architecture's width")
    p.add_argument("--out", help="write every run's results to this JSON file")
    p.add_argument("--append", action="store_true",
                   help="keep the runs already in --out (a run of the same data, architecture "
                        "and seed is replaced); each pass is listed under 'passes'")
    args = p.parse_args(argv)
    started = time.time()
    results = compare(args.data, args.seeds, args.minutes, args.test_sentences, args.d_model)
    for data, arches in summary(results).items():
        print(data, "  ".join(f"{a}: {m:.1f} ± {s:.1f}" for a, (m, s, _) in arches.items()))
    if args.out:
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() \
            else None
        grid = {"minutes": args.minutes, "seeds": args.seeds, "test_sentences": args.test_sentences,
                "d_model": args.d_model, "wall_seconds": round(time.time() - started),
                "load_at_end": load, "data": sorted({r["data"] for r in results})}
        write_grid(Path(args.out), grid, results, append=args.append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
