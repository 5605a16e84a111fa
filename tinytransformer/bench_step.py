"""The reference training step, in tinytransformer (each backend) and in PyTorch, side by side.

Reference configuration (PERFORMANCE-NOTES): vocabularies 1000, d_model 128, 4 heads, d_ff 512,
2 + 2 layers, post-LN, dropout 0.1, batch 64, source 16 tokens, target 17 (<bos> + 16), about
20 % padding, label smoothing 0.1, AdamW, float32. One step = forward, loss, backward, update.
"""

from __future__ import annotations

import numpy as np

from .data.vocab import BOS_ID, PAD_ID

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


def matmul_flops() -> dict:
    """Matrix-multiply FLOPs of one step, counted: forward, and ~3x forward for the whole step."""
    N = B * S  # tokens on each side (source and target have the same shape here)
    attn = 2 * 2 * B * H * S * S * (C // H)  # scores and weighted sum
    ffn = 2 * 2 * N * C * F
    encoder = 2 * N * C * 3 * C + attn + 2 * N * C * C + ffn
    cross = 2 * N * C * C + 2 * N * C * 2 * C + attn + 2 * N * C * C
    decoder = encoder + cross
    forward = LAYERS * (encoder + decoder) + 2 * N * C * V
    return {"forward": forward, "step": 3 * forward}


def ours(dropout: float, backend: str):
    """A step function of the tinytransformer model on the reference batch."""
    from . import functional as Fn
    from .kernels import use_backend
    from .models import Transformer, TransformerConfig
    from .optim import AdamW

    model = Transformer(TransformerConfig(src_vocab=V, tgt_vocab=V, d_model=C, num_heads=H, d_ff=F,
                                          num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
                                          dropout=dropout))
    opt = AdamW(model.parameters(), lr=1e-4)
    src, tgt_in, tgt_out = reference_batch()

    def step():
        with use_backend(backend):
            logits = model(src, tgt_in)
            loss = Fn.cross_entropy(logits, tgt_out, ignore_index=PAD_ID, label_smoothing=0.1)
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
    import time

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
    import time

    a = np.random.default_rng(0).standard_normal((B * S, C)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((C, F)).astype(np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(10):
            a @ w
        times.append((time.perf_counter() - t0) / 10)
    return 2 * B * S * C * F / np.median(times) / 1e9
