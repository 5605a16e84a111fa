"""Optimisers (SGD, Adam, AdamW), learning-rate schedules, gradient clipping.

An optimiser holds a list of parameter Tensors and, on `step()`, updates each `p.data`
in place from `p.grad`; parameters whose `.grad` is None are skipped (their state and
step count do not move), exactly as in PyTorch, whose update rules these reproduce
term by term (bias correction, where epsilon goes, L2 vs decoupled weight decay).

`lr` is a plain attribute: a schedule sets it before each step,
`opt.lr = noam_lr(step, d_model, warmup)`. Schedules are plain functions of the step,
so resuming a run needs nothing but the step number.

`state_dict()` is a flat `dict[str, np.ndarray]`, ready for safetensors:
    "step"                int64 [P]   updates taken by each of the P parameters
    "lr", "eps", ...      0-d float64 (bool for "nesterov"), "betas" float64 [2]
    "m.i", "v.i"          Adam/AdamW moments of parameter i, in its shape and dtype
    "momentum_buffer.i"   SGD's velocity of parameter i (only when momentum > 0)
`load_state_dict` restores all of it, hyperparameters included (as PyTorch does).
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "noam_lr", "cosine_lr", "clip_grad_norm"]


class Optimizer:
    """Base class: parameter bookkeeping, per-parameter state, zero_grad, state dicts."""

    hyperparameters: tuple[str, ...] = ("lr",)
    state_names: tuple[str, ...] = ()

    def __init__(self, params, lr: float):
        self.params = list(params)
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{name}: the same parameter appears twice (it would step twice)")
        for i, p in enumerate(self.params):
            if not np.issubdtype(p.data.dtype, np.floating):
                raise TypeError(f"{name}: parameter {i} has dtype {p.data.dtype}, not floating")
        if lr < 0:
            raise ValueError(f"{name}: lr must be >= 0, got {lr}")
        self.lr = float(lr)
        self.steps = np.zeros(len(self.params), dtype=np.int64)
        self.state = {s: [np.zeros_like(p.data) for p in self.params] for s in self.state_names}

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            self.steps[i] += 1
            self._update(i, p.data, self._grad(i, p))

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def _grad(self, i: int, p) -> np.ndarray:
        g = p.grad
        if g.shape != p.data.shape:
            raise ValueError(
                f"{type(self).__name__}: parameter {i} has shape {p.data.shape} "
                f"but its grad has shape {g.shape}"
            )
        return g if g.dtype == p.data.dtype else g.astype(p.data.dtype)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """A flat dict of copies: "step", the hyperparameters, then "<state>.<i>"."""
        d = {"step": self.steps.copy()}
        for h in self.hyperparameters:
            value = getattr(self, h)
            d[h] = np.array(value, dtype=bool if isinstance(value, bool) else np.float64)
        for s, arrays in self.state.items():
            d.update({f"{s}.{i}": a.copy() for i, a in enumerate(arrays)})
        return d

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        """Restore a `state_dict()` of the same optimiser class over the same parameters."""
        name = type(self).__name__
        expected = {"step", *self.hyperparameters,
                    *(f"{s}.{i}" for s in self.state for i in range(len(self.params)))}
        missing, unexpected = sorted(expected - set(d)), sorted(set(d) - expected)
        if missing or unexpected:
            raise ValueError(f"{name}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        for key in sorted(expected):
            ours = self.steps if key == "step" else self._state_array(key)
            if ours is not None and np.shape(d[key]) != ours.shape:
                raise ValueError(f"{name}.load_state_dict: {key!r} has shape "
                                 f"{np.shape(d[key])}, expected {ours.shape}")
        self.steps[...] = d["step"]
        for s, arrays in self.state.items():
            for i, a in enumerate(arrays):
                np.copyto(a, d[f"{s}.{i}"], casting="same_kind")
        for h in self.hyperparameters:
            setattr(self, h, _python_value(getattr(self, h), d[h]))

    def _state_array(self, key: str) -> np.ndarray | None:
        s, _, i = key.rpartition(".")
        return self.state[s][int(i)] if s in self.state else None


def _python_value(like, array: np.ndarray):
    """Turn a saved hyperparameter array back into the Python type of `like`."""
    if isinstance(like, bool):
        return bool(array)
    if isinstance(like, tuple):
        return tuple(float(x) for x in np.ravel(array))
    return float(array)


class SGD(Optimizer):
    """d = g + λ p;  b = μ b + d;  d = d + μ b (Nesterov) or b;  p = p - lr d  (torch.optim.SGD)."""

    hyperparameters = ("lr", "momentum", "weight_decay", "nesterov")

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, "
                             f"got {momentum} and {weight_decay}")
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.state_names = ("momentum_buffer",) if momentum > 0 else ()
        super().__init__(params, lr)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.nesterov = bool(nesterov)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        # d = g + λ p   (L2 penalty λ/2 |p|² folded into the gradient; p.grad is left alone)
        d = g + self.weight_decay * p if self.weight_decay else g
        if self.momentum:
            # b = μ b + d   (b starts at 0, so the first step gives b = d, as torch's clone)
            b = self.state["momentum_buffer"][i]
            b *= self.momentum
            b += d
            d = d + self.momentum * b if self.nesterov else b
        p -= self.lr * d


class Adam(Optimizer):
    """p = p - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε)  (torch.optim.Adam)."""

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_names = ("m", "v")
    decoupled = False  # AdamW sets this: weight decay acts on p, not on g

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.98),
                 eps: float = 1e-9, weight_decay: float = 0.0):
        name = type(self).__name__
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"{name}: eps and weight_decay must be >= 0, "
                             f"got {eps} and {weight_decay}")
        super().__init__(params, lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        (beta1, beta2), lr, wd, t = self.betas, self.lr, self.weight_decay, int(self.steps[i])
        if wd and self.decoupled:
            p *= 1.0 - lr * wd  # AdamW: p = p (1 - lr λ), before the Adam step
        elif wd:
            # Adam: g = g + λ p (L2 penalty through the gradient; asarray: a 0-d p gives a scalar)
            g = np.asarray(g + wd * p)
        # m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
        # p = p - lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε)     (one pass, kernels/)
        kernels.adam_update(p, g, self.state["m"][i], self.state["v"][i], lr, beta1, beta2,
                            self.eps, t)


class AdamW(Adam):
    """p = p (1 - lr λ), then the Adam step with no L2 term  (torch.optim.AdamW)."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.98),
                 eps: float = 1e-9, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


# -- schedules: plain functions of the step (steps count from 1) -------------------------


def noam_lr(step: int, d_model: int, warmup: int, factor: float = 1.0) -> float:
    """lrate = factor · d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)."""
    if step < 1 or warmup < 1:
        raise ValueError(f"noam_lr: step and warmup count from 1, got step={step}, "
                         f"warmup={warmup}")
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def cosine_lr(step: int, base_lr: float, warmup: int, total: int, min_lr: float = 0.0) -> float:
    """lr = base_lr · t/warmup for t < warmup, then min_lr + (base_lr - min_lr)(1 + cos(π s))/2.

    s = (t - warmup)/(total - warmup) runs from 0 at t = warmup to 1 at t = total, and
    stays at 1 after it (lr stays at min_lr).
    """
    if not 0 <= warmup <= total or total < 1:
        raise ValueError(f"cosine_lr: need 0 <= warmup <= total and total >= 1, "
                         f"got warmup={warmup}, total={total}")
    if step < warmup:
        return base_lr * step / warmup
    s = min(1.0, (step - warmup) / (total - warmup)) if total > warmup else 1.0
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * s))


def clip_grad_norm(params, max_norm: float) -> float:
    """|g| = sqrt(Σ_p Σ g_p²);  if |g| > max_norm: g = g · max_norm/(|g| + 1e-6)  (in place).

    Returns |g| before clipping, as torch.nn.utils.clip_grad_norm_ does. Parameters
    without a grad are ignored. A NaN or Inf norm leaves the grads untouched, so the
    caller can see it and skip the step.
    """
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if not math.isfinite(total):
        return total
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:  # torch clamps coef at 1: only scale down, never up
        for g in grads:
            g *= coef
    return total
