"""A translator small enough to train in seconds: the configuration that test_translator.py
trains with, and that conftest.py's `trained` fixture trains once for the whole run."""

from tinytransformer.train import TrainConfig

TINY = {"d_model": 32, "num_heads": 2, "d_ff": 64, "num_encoder_layers": 1,
        "num_decoder_layers": 1, "dropout": 0.1}


def tiny_config(**overrides) -> TrainConfig:
    return TrainConfig(**{"steps": 40, "batch_size": 32, "eval_every": 20, "eval_sentences": 16,
                          "lr_factor": 4.0, "warmup": 20, "model": TINY, **overrides})
