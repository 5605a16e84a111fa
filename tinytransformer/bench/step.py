"""The reference training step, in tinytransformer (each backend) and in PyTorch, side by side.

Reference configuration: vocabularies 1000, d_model 128, 4 heads, d_ff 512, 2 + 2 layers,
post-LN, dropout 0.1, batch 64, source 16 tokens, target 17 (<bos> + 16), about 20 % padding,
label smoothing 0.1, AdamW, float32. One step = forward, loss, backward, update.
"""

from __future__ import annotations

import time

import numpy as np

from ..data.vocab import BOS_ID, PAD_ID
from .timing import interleaved

B, S, T, V, C, H, F, LAYERS = 64, 16, 16, 1000, 128, 4, 512, 2


def reference_batch(seed: int = 0):
    """src [B, S], tgt_in [B, T], tgt_out [B, T] with ~20 % right padding."""
    rng = np.random.default_rng(seed)
    src_len = rng.integers(S * 6 // 10, S + 1, size=B)
    tgt_len = rng.integers(T * 6 // 10, T + 1, size=B)
    src = np.where(np.arange(S) < src_len[:, None], rng.integers(4, V, (B, S)), PAD_ID)
    tgt = np.where(np.arange(T + 1) < tgt_len[:, None] + 1, rng.integers(4, V, (B, T + 1)), PAD_ID)
    tgt[:, 0] = BOS_ID
    return src, tgt[:, :-1], tgt[:, 1:]


def reference_model(dropout: float):
    """The reference Transformer (a new random initialisation each call)."""
    from ..models import Transformer, TransformerConfig

    return Transformer(TransformerConfig(src_vocab=V, tgt_vocab=V, d_model=C, num_heads=H, d_ff=F,
                                         num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
                                         dropout=dropout))


def _loss(model, src, tgt_in, tgt_out):
    """The step's loss: cross-entropy of the logits [B, T, V], padding ignored, smoothing 0.1."""
    from .. import functional as Fn

    logits = model(src, tgt_in)
    return Fn.cross_entropy(logits, tgt_out, ignore_index=PAD_ID, label_smoothing=0.1)


def matmul_flops() -> dict:
    """Matrix-multiply FLOPs of one step, counted (flops.count_flops) on a forward and backward
    pass of the reference model: {"forward": ..., "step": forward + backward}."""
    from ..flops import count_flops

    model = reference_model(dropout=0.0)
    with count_flops() as flops:
        _loss(model, *reference_batch()).backward()
    return {"forward": flops.forward, "step": flops.total}


def ours(dropout: float, backend: str):
    """A step function of the tinytransformer model on the reference batch."""
    from ..kernels import use_backend
    from ..optim import AdamW

    model = reference_model(dropout)
    opt = AdamW(model.parameters(), lr=1e-4)
    batch = reference_batch()

    def step():
        with use_backend(backend):
            loss = _loss(model, *batch)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return step


def pytorch(dropout: float):
    """The same step in PyTorch eager (torch.nn.Transformer), or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    emb_s, emb_t = torch.nn.Embedding(V, C), torch.nn.Embedding(V, C)
    net = torch.nn.Transformer(C, H, LAYERS, LAYERS, F, dropout, batch_first=True)
    gen = torch.nn.Linear(C, V)
    params = [*emb_s.parameters(), *emb_t.parameters(), *net.parameters(), *gen.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-4)
    src, tgt_in, tgt_out = (torch.from_numpy(a) for a in reference_batch())
    causal = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.bool)
    pos = torch.zeros(1, S, C)  # sinusoidal table lookup costs nothing worth timing

    def step():
        x = net(emb_s(src) * C**0.5 + pos, emb_t(tgt_in) * C**0.5 + pos, tgt_mask=causal,
                src_key_padding_mask=src == PAD_ID, tgt_key_padding_mask=tgt_in == PAD_ID,
                memory_key_padding_mask=src == PAD_ID)
        loss = torch.nn.functional.cross_entropy(gen(x).reshape(-1, V), tgt_out.reshape(-1),
                                                 ignore_index=PAD_ID, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def linear_shapes() -> list[tuple[int, int, int]]:
    """(N, C_in, C_out) of every F.linear in one step of the reference model (23 products)."""
    N = B * S
    self_attn = [(N, C, 3 * C), (N, C, C)]  # q, k, v in one product; W^O
    cross_attn = [(N, C, C), (N, C, 2 * C), (N, C, C)]  # q; k, v of the memory; W^O
    ffn = [(N, C, F), (N, F, C)]
    return LAYERS * (self_attn + ffn) + LAYERS * (self_attn + cross_attn + ffn) + [(N, C, V)]


def blas_seconds(repeats: int = 10) -> float:
    """Seconds for the step's matrix products alone: y = x W^T, dx = g W, dW = g^T x each."""
    rng = np.random.default_rng(0)
    arrays = [tuple(rng.standard_normal(s).astype(np.float32) for s in ((n, k), (m, k), (n, m)))
              for n, k, m in linear_shapes()]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for x, w, g in arrays:
            x @ w.T, g @ w, g.T @ x
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def matmul_peak(repeats: int = 30) -> float:
    """Measured float32 GFLOP/s of NumPy's BLAS at the model's FFN shape.

    [1024, 128] x [128, 512]
    """
    a = np.random.default_rng(0).standard_normal((B * S, C)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((C, F)).astype(np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(10):
            a @ w
        times.append((time.perf_counter() - t0) / 10)
    return 2 * B * S * C * F / np.median(times) / 1e9


def measure(repeats: int = 21) -> dict:
    """The reference training step: NumPy backend, Numba backend, PyTorch; dropout 0.1 and 0;
    and the time of its matrix products alone."""
    torch = _torch_threads()
    flops, peak = matmul_flops()["step"], matmul_peak()
    out = {"matmul_gflop_per_step": flops / 1e9, "blas_peak_gflops": peak}
    for p in (0.1, 0.0):
        fns = {"numpy": ours(p, "numpy"), "numba": ours(p, "numba")}
        if torch:
            fns["pytorch"] = pytorch(p)
        t = interleaved(fns, repeats, warmup=3)
        out[f"dropout {p}"] = {k: v * 1e3 for k, v in t.items()}
        _print_step(p, t, flops, peak, repeats)
    out["blas_ms"] = blas_seconds() * 1e3
    print(f"  the step's {len(linear_shapes())} matrix products and their gradients alone, "
          f"which both backends leave to BLAS: {out['blas_ms']:.1f} ms")
    return out


def _print_step(p: float, t: dict, flops: int, peak: float, repeats: int) -> None:
    print(f"training step, reference config, dropout {p} (ms, median of {repeats}, interleaved):")
    for name, sec in t.items():
        print(f"  {name:8s} {sec * 1e3:7.1f} ms   {flops / sec / 1e9:5.1f} GFLOP/s "
              f"({flops / sec / 1e9 / peak:4.0%} of the measured BLAS peak {peak:.0f})")
    print(f"  numba vs numpy: {t['numpy'] / t['numba']:.2f}x faster" +
          (f";  numba / pytorch: {t['numba'] / t['pytorch']:.2f}" if "pytorch" in t else
           ";  PyTorch not installed (pip install torch) for the comparison"))


def _torch_threads() -> bool:
    try:
        import torch
    except ImportError:
        return False
    torch.set_num_threads(2)  # the same two threads NumPy's BLAS uses here
    return True
