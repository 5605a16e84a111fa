"""A small Llama written as llama.cpp stores it, with PyPI's gguf (test_llama, test_llama_fast)."""

import numpy as np
import pytest

from tinytransformer import nn


def write_tiny_gguf(path, model, extra_tensor=None, quantize=False):
    """`model` as llama.cpp would store it, written with PyPI's gguf: W_q and W_k permuted to
    the interleaved layout, the config in the `llama.*` metadata. Tensors in float32, or with
    `quantize` as SmolLM2's file has them: the embedding in Q8_0, the projections in Q4_1
    (quantised by gguf's own code; their inner sizes must be multiples of 32)."""
    gguf = pytest.importorskip("gguf")
    from tinytransformer.models.llama import gguf_names

    c, state = model.config, model.state_dict()
    w = gguf.GGUFWriter(str(path), arch="llama")
    for add, value in ((w.add_block_count, c.num_layers), (w.add_embedding_length, c.d_model),
                       (w.add_feed_forward_length, c.d_ff), (w.add_head_count, c.num_heads),
                       (w.add_head_count_kv, c.num_kv_heads), (w.add_context_length, c.max_len),
                       (w.add_rope_freq_base, c.rope_theta), (w.add_layer_norm_rms_eps, c.rms_eps)):
        add(value)
    for name, ours in gguf_names(c).items():
        t = state[ours].astype(np.float32)
        if ".attn_q." in name or ".attn_k." in name:
            t = nn.permute_qk(t, c.num_heads if ".attn_q." in name else c.num_kv_heads)
        if quantize and t.ndim == 2:
            kind = gguf.GGMLQuantizationType.Q8_0 if name == "token_embd.weight" else \
                gguf.GGMLQuantizationType.Q4_1
            w.add_tensor(name, gguf.quants.quantize(t, kind), raw_dtype=kind)
        else:
            w.add_tensor(name, t)
    if extra_tensor:
        w.add_tensor(extra_tensor, np.ones(4, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
