"""AdamW's state between our optimizer and torch.optim.AdamW, matched by parameter name, so a
run moves to torch and back without its moments starting again from zero.

    ours (optim.py)       "step" int64 [P], "lr", "betas" [2], "eps", "weight_decay",
                          "m.i", "v.i"   (i: the parameter's position in model.parameters())
    a torch folder        "step.<name>", "exp_avg.<name>", "exp_avg_sq.<name>" (torch's names),
    (optimizer.safetensors)  and the same "lr", "betas", "eps", "weight_decay"

m and v are torch's exp_avg and exp_avg_sq, term for term (optim.py's Adam is torch's). A
parameter that never had a gradient has step 0 here and no state in torch.
"""

from __future__ import annotations

import numpy as np

HYPERPARAMETERS = ("lr", "betas", "eps", "weight_decay")


def optimizer_to_torch(ours: dict[str, np.ndarray], names: list[str]) -> dict:
    """Our AdamW state dict -> the folder's arrays; `names`: torch's names of the parameters,
    in our parameter order."""
    out = {h: ours[h] for h in HYPERPARAMETERS}
    for i, name in enumerate(names):
        if ours["step"][i] > 0:
            out |= {f"step.{name}": np.array(ours["step"][i]), f"exp_avg.{name}": ours[f"m.{i}"],
                    f"exp_avg_sq.{name}": ours[f"v.{i}"]}
    return out


def optimizer_from_torch(arrays: dict, names: list[str], like: list) -> dict:
    """The folder's arrays -> our AdamW state dict, in `Optimizer.state_dict()`'s order;
    `like`: our parameters (for shapes and dtypes)."""
    out = {"step": np.array([int(arrays.get(f"step.{n}", 0)) for n in names], dtype=np.int64)}
    out |= {h: arrays[h] for h in HYPERPARAMETERS}
    for key, torch_key in (("m", "exp_avg"), ("v", "exp_avg_sq")):
        for i, (name, p) in enumerate(zip(names, like)):
            moment = arrays.get(f"{torch_key}.{name}", np.zeros(p.shape, p.dtype))
            out[f"{key}.{i}"] = moment.astype(p.dtype, copy=False)
    return out


def load_into_adamw(opt, model, arrays: dict) -> None:
    """Set torch AdamW `opt`'s state for `model`'s parameters from the folder's arrays."""
    import torch

    for name, p in model.named_parameters():
        if f"step.{name}" in arrays:
            opt.state[p] = {"step": torch.tensor(float(arrays[f"step.{name}"])),
                            "exp_avg": torch.from_numpy(arrays[f"exp_avg.{name}"]).to(p),
                            "exp_avg_sq": torch.from_numpy(arrays[f"exp_avg_sq.{name}"]).to(p)}


def adamw_arrays(opt, model) -> dict:
    """torch AdamW `opt`'s state for `model`'s parameters as the folder's arrays."""
    group = opt.param_groups[0]
    out = {"lr": np.array(group["lr"], np.float64), "betas": np.array(group["betas"], np.float64),
           "eps": np.array(group["eps"], np.float64),
           "weight_decay": np.array(group["weight_decay"], np.float64)}
    for name, p in model.named_parameters():
        state = opt.state.get(p)
        if state:
            out |= {f"step.{name}": np.array(int(state["step"]), np.int64),
                    f"exp_avg.{name}": state["exp_avg"].detach().cpu().numpy(),
                    f"exp_avg_sq.{name}": state["exp_avg_sq"].detach().cpu().numpy()}
    return out
