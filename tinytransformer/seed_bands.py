""""Is my run normal?": seed bands of the README's configurations, shipped with the package.

A band is the mean and standard deviation, over runs that differ only in their seed, of the
validation loss and BLEU at each evaluation step. `train` looks its configuration up (every
setting but the seed and how long or how often to run must match) and, at each evaluation,
says where the run stands: "BLEU 93.2, band 96.5 ± 2.6 (-1.3 sd)". Three seeds give a rough
standard deviation, so only a run more than 2 sd away is called unusual.

    python -m tinytransformer.seed_bands NAME RUN_DIR... [--note TEXT]   # add or replace a band
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

BANDS_FILE = Path(__file__).with_name("data") / "seed_bands.json"
FREE = {"seed", "steps", "minutes", "eval_every"}  # settings a run may change and still match
METRICS = (("valid_loss", "loss", 3), ("valid_bleu", "BLEU", 1))  # key, name, decimals


def settings(cfg) -> dict:
    """The settings that define a configuration: all of TrainConfig's but FREE's, with the
    model's written out in full (so --d-model 128 matches the default it equals)."""
    from .translate import translator_config

    model = translator_config(cfg.arch, {**cfg.model, "src_vocab": 1, "tgt_vocab": 1}).to_dict()
    model = {k: v for k, v in model.items() if k not in ("src_vocab", "tgt_vocab", "seed")}
    return {**{k: v for k, v in asdict(cfg).items() if k not in FREE}, "model": model}


def load_bands(path: Path = BANDS_FILE) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["bands"] if path.exists() else []


def _flat(config: dict) -> dict:
    return {**{k: v for k, v in config.items() if k != "model"},
            **{f"model.{k}": v for k, v in config.get("model", {}).items()}}


def find_band(cfg, bands: list[dict] | None = None) -> dict | None:
    """The band whose configuration is `cfg`'s (seed and length aside), or None. A setting
    the band does not name (added to TrainConfig after it was measured) must be at its
    default."""
    mine, default = _flat(settings(cfg)), _flat(settings(type(cfg)()))
    for band in load_bands() if bands is None else bands:
        theirs = _flat(band["config"])
        if all(value == theirs.get(key, default[key]) for key, value in mine.items()):
            return band
    return None


def band_message(band: dict, result: dict) -> str | None:
    """Where an evaluation stands in the band at its step, or None if the band has no such
    step: "band (3 seeds): loss 0.081 ± 0.004 (+1.2 sd), BLEU 96.5 ± 2.6 (-1.3 sd)"."""
    at = band["steps"].get(str(result["step"]))
    if at is None:
        return None
    parts, unusual = [], []
    for key, name, d in METRICS:
        mean, std = at[key]
        z = (result[key] - mean) / std if std > 0 else 0.0
        parts.append(f"{name} {mean:.{d}f} ± {std:.{d}f} ({z:+.1f} sd)")
        if round(abs(z), 1) > 2:  # as printed: +2.0 sd is still inside
            unusual.append(name)
    verdict = (f"outside the band ({', '.join(unusual)} more than 2 sd away)" if unusual
               else "inside the band")
    return f"seed band ({band['seeds']} seeds): {', '.join(parts)}: {verdict}"


def band_from_histories(name: str, config: dict, histories: list[list[dict]],
                        note: str = "") -> dict:
    """A band from the histories of runs of one configuration with different seeds."""
    evals = [{h["step"]: h for h in hist if "valid_bleu" in h} for hist in histories]
    steps = sorted(set.intersection(*(set(e) for e in evals)))
    return {"name": name, "note": note, "seeds": len(histories), "config": config,
            "steps": {str(s): {key: [float(np.mean([e[s][key] for e in evals])),
                                     float(np.std([e[s][key] for e in evals], ddof=1))]
                               for key, _, _ in METRICS} for s in steps}}


def main(argv=None) -> int:
    from .checkpoint import load_meta
    from .train import TrainConfig

    p = argparse.ArgumentParser(prog="python -m tinytransformer.seed_bands")
    p.add_argument("name")
    p.add_argument("runs", nargs="+", help="run folders of one configuration, seeds differing")
    p.add_argument("--note", default="", help="how and where the runs were measured")
    args = p.parse_args(argv)
    metas = [load_meta(Path(r) / "latest") for r in args.runs]
    configs = [settings(TrainConfig(**m["train_config"])) for m in metas]
    if any(c != configs[0] for c in configs):
        raise SystemExit("the runs differ in more than their seed and length")
    band = band_from_histories(args.name, configs[0], [m["history"] for m in metas], args.note)
    bands = [b for b in load_bands() if b["name"] != args.name] + [band]
    BANDS_FILE.write_text(json.dumps({"bands": bands}, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    print(f"{BANDS_FILE}: {args.name}, {len(metas)} seeds, steps {', '.join(band['steps'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
