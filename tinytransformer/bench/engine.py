"""The engine's overhead: forward + backward of a 2-layer MLP, through autograd and by hand."""

from __future__ import annotations

import numpy as np

from .timing import interleaved


def _mlp(rng):
    """x [64, 128], w1 [128, 256], b1 [256], w2 [256, 128], b2 [128] (float32)."""
    x = rng.standard_normal((64, 128)).astype(np.float32)
    w1, w2 = (rng.standard_normal(s).astype(np.float32) * 0.1 for s in [(128, 256), (256, 128)])
    return x, w1, np.zeros(256, np.float32), w2, np.zeros(128, np.float32)


def _by_hand(x, w1, b1, w2, b2):
    """loss = 0.5 |relu(x w1 + b1) w2 + b2|^2 and its gradients, in NumPy."""
    h = x @ w1 + b1  # [64, 256]
    a = np.maximum(h, 0)
    y = a @ w2 + b2  # [64, 128]
    loss = 0.5 * np.sum(y * y)
    gy = y  # dL/dy
    gw2, gb2, ga = a.T @ gy, gy.sum(0), gy @ w2.T
    gh = ga * (h > 0)
    gw1, gb1 = x.T @ gh, gh.sum(0)
    return loss, gw1, gb1, gw2, gb2


def _engine_step(x, params):
    """The same loss through the engine; its gradients land in params' .grad."""
    w1, b1, w2, b2 = params
    for p in params:
        p.grad = None
    y = (x @ w1 + b1).relu() @ w2 + b2
    loss = 0.5 * (y * y).sum()
    loss.backward()
    return loss


def measure(repeats: int = 200) -> dict:
    """Forward + backward of a 2-layer MLP on x [64, 128]: the engine vs NumPy by hand."""
    from .. import Tensor

    x, *weights = _mlp(np.random.default_rng(0))
    params, tx = [Tensor(w, requires_grad=True) for w in weights], Tensor(x)
    _engine_step(tx, params)
    for p, g in zip(params, _by_hand(x, *weights)[1:], strict=True):
        np.testing.assert_allclose(p.grad, g, rtol=1e-3, atol=1e-3)  # same computation
    t = interleaved({"numpy by hand": lambda: _by_hand(x, *weights),
                     "tinytransformer": lambda: _engine_step(tx, params)}, repeats)
    r = {"numpy_us": t["numpy by hand"] * 1e6, "engine_us": t["tinytransformer"] * 1e6,
         "ratio": t["tinytransformer"] / t["numpy by hand"]}
    print(f"engine overhead, 2-layer MLP fwd+bwd on [64, 128] (float32, median of {repeats}):\n"
          f"  NumPy by hand {r['numpy_us']:8.1f} us   tinytransformer {r['engine_us']:8.1f} us"
          f"   ratio {r['ratio']:.2f}x")
    return r
