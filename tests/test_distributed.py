"""A torch run on two processes equals one process, and the project's own trainer.

One tiny translator (float64, no dropout) is exported at step 0 and trained for K steps three
ways on the same global batches: by torchrun with two CPU processes (gloo, DDP), by the same
script in one process (torch, no process group), and by the NumPy trainer. The global batch of
7 sentences splits 4 + 3, and one batch of the epoch holds a single sentence, so one rank gets
no row at all (it takes part with weight 0). Then the two-process result, imported back,
translates as the torch model does.

float64, because Adam divides each gradient by its own RMS: a gradient that is zero in exact
arithmetic becomes a step of ±lr made of rounding noise. The key projection's bias is one (the
softmax ignores a shift shared by every key): in float32 it drifts by ~lr per step and differs
between any two implementations, while the losses agree to float32's precision. In float64
the noise is ~1e-17, far below Adam's eps = 1e-9, and every parameter agrees.
"""

import subprocess
import sys

import numpy as np
import pytest

from tinytransformer import cli
from tinytransformer.checkpoint import load_checkpoint
from tinytransformer.data import SAMPLE_TSV
from tinytransformer.interop import export_checkpoint, our_name, read_torch_folder
from tinytransformer.train import TrainConfig, Trainer

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # 25-40 s: torchrun starts two Pythons that import torch

K = 6  # the 36 training pairs in batches of 7 make 6 batches: all of epoch 0, the 1-row one too
TINY = {"d_model": 16, "num_heads": 2, "d_ff": 32, "num_encoder_layers": 1,
        "num_decoder_layers": 1, "dropout": 0.0, "dtype": "float64"}
TOL = 1e-7  # max |θ - θ_ref| after K steps that move the weights by ~1 (measured: 3e-9)
SENTENCES = ["i read books at home .", "do you like cats ?", "she is a teacher ."]


def quiet(*args):
    pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(folder, the NumPy trainer after K steps, torchrun's stdout)"""
    from tinytransformer.distributed.run import Options, train

    root = tmp_path_factory.mktemp("ddp")
    cfg = TrainConfig(data=str(SAMPLE_TSV), steps=K, batch_size=7, eval_every=K,
                      eval_sentences=4, warmup=4, model=TINY)
    trainer = Trainer(cfg, root / "numpy", log=quiet)
    trainer.save("init")
    export_checkpoint(root / "numpy" / "init", root / "init")
    ddp = subprocess.run(  # torchrun, as a module of this Python
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "tinytransformer.distributed", str(root / "init"), "--out", str(root / "ddp"),
         "--log-every", "1"], capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr
    train(Options(model=str(root / "init"), out=str(root / "single")), log=quiet)
    trainer.run(progress=False)
    return root, trainer, ddp.stdout


def weights(folder) -> dict[str, np.ndarray]:
    return {our_name(k): v for k, v in read_torch_folder(folder)[0].items()}


def losses(history) -> list[float]:
    return [h["train_loss"] for h in history if "train_loss" in h]


def max_difference(a: dict, b: dict) -> tuple[float, str]:
    assert a.keys() == b.keys()
    return max((float(np.abs(a[k] - b[k]).max()), k) for k in a)


def test_two_processes_equal_one(runs):
    root, _, stdout = runs
    assert "2 process(es) (gloo)" in stdout and f"steps 0 -> {K}" in stdout
    ddp, single = weights(root / "ddp"), weights(root / "single")
    moved, _ = max_difference(ddp, weights(root / "init"))
    err, name = max_difference(ddp, single)
    print(f"\ntwo processes vs one: max |diff| {err:.1e} ({name}); weights moved {moved:.2f}")
    assert moved > 0.1 and err <= TOL
    meta = {n: read_torch_folder(root / n)[1]["meta"] for n in ("ddp", "single")}
    assert meta["ddp"]["step"] == meta["single"]["step"] == K
    np.testing.assert_allclose(losses(meta["ddp"]["history"]),
                               losses(meta["single"]["history"]), rtol=1e-12)


def test_torch_run_equals_the_numpy_trainer(runs):
    root, trainer, _ = runs
    ours = load_checkpoint(root / "numpy" / "latest").tensors
    err, name = max_difference(weights(root / "ddp"), ours)
    print(f"\ntorchrun vs the NumPy trainer: max |diff| {err:.1e} ({name})")
    assert err <= TOL
    torch_losses = losses(read_torch_folder(root / "ddp")[1]["meta"]["history"])
    np.testing.assert_allclose(torch_losses, losses(trainer.history), rtol=1e-10)


def test_the_imported_run_translates_as_the_torch_model(runs, capsys, tmp_path):
    from tinytransformer.interop import load_torch_model
    from tinytransformer.interop.translator import torch_translate
    from tinytransformer.translate import load_translator

    root, _, _ = runs
    checkpoint = str(tmp_path / "imported")
    assert cli.main(["import", str(root / "ddp"), "--checkpoint", checkpoint]) == 0
    capsys.readouterr()
    assert cli.main(["translate", "--checkpoint", checkpoint, *SENTENCES]) == 0
    printed = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    model, config = load_torch_model(root / "ddp")
    vocabs = load_translator(checkpoint)[1]
    assert printed == torch_translate(model, vocabs, SENTENCES)
    assert config["meta"]["torch_run"]["world_size"] == 2
    figure = tmp_path / "attention.png"
    assert cli.main(["attention", "--checkpoint", checkpoint, SENTENCES[0],
                     "--out", str(figure), "--kinds", "encoder_self"]) == 0
    assert figure.stat().st_size > 0


def test_numpy_then_torch_then_numpy_equals_numpy_alone(tmp_path):
    """k steps in NumPy, k in torch, k more in NumPy by `--resume` of the imported checkpoint
    give the weights of 3k steps in NumPy: AdamW's moments and step counts travel too."""
    from tinytransformer.distributed.run import Options, train
    from tinytransformer.interop import import_checkpoint

    def config(steps):
        return TrainConfig(data=str(SAMPLE_TSV), steps=steps, batch_size=7, eval_every=100,
                           eval_sentences=4, warmup=4, model=TINY)

    k = K // 2  # steps of each part
    straight = Trainer(config(3 * k), tmp_path / "straight", log=quiet)
    straight.run(progress=False)
    Trainer(config(k), tmp_path / "moved", log=quiet).run(progress=False)
    export_checkpoint(tmp_path / "moved" / "latest", tmp_path / "torch")
    train(Options(model=str(tmp_path / "torch"), out=str(tmp_path / "torch-out"), steps=2 * k),
          log=quiet)
    import_checkpoint(tmp_path / "torch-out", tmp_path / "moved" / "latest", overwrite=True)
    resumed = Trainer(config(3 * k), tmp_path / "moved", resume=True, log=quiet)
    assert resumed.step == 2 * k
    resumed.run(progress=False)
    err, name = max_difference(load_checkpoint(tmp_path / "moved" / "latest").tensors,
                               load_checkpoint(tmp_path / "straight" / "latest").tensors)
    print(f"\nNumPy, torch, NumPy vs NumPy alone: max |diff| {err:.1e} ({name})")
    assert err <= TOL
    np.testing.assert_allclose(losses(resumed.history), losses(straight.history), rtol=1e-10)


# -- the language model: its recipe (loss, windows, cosine schedule, betas), in one process ------
TINY_LM = {"d_model": 16, "num_heads": 2, "d_ff": 32, "num_layers": 2, "dropout": 0.0,
           "dtype": "float64"}


def test_language_model_on_torch_equals_the_numpy_trainer(tmp_path, capsys):
    from tinytransformer.distributed.run import Options, train
    from tinytransformer.interop import load_torch_model
    from tinytransformer.lm_train import LMTrainConfig, LMTrainer

    text = tmp_path / "text.txt"
    rng = np.random.default_rng(0)
    text.write_text("\n".join("".join(rng.choice(list("xyzab"), 12)) for _ in range(40)) + "\n")
    cfg = LMTrainConfig(data=str(text), context=8, steps=K, batch_size=5, warmup=2,
                        eval_every=K, model=TINY_LM)
    trainer = LMTrainer(cfg, tmp_path / "numpy", log=quiet)
    trainer.save("init")
    export_checkpoint(tmp_path / "numpy" / "init", tmp_path / "init")
    train(Options(model=str(tmp_path / "init"), out=str(tmp_path / "torch")), log=quiet)
    trainer.run(progress=False)
    err, name = max_difference(weights(tmp_path / "torch"),
                               load_checkpoint(tmp_path / "numpy" / "latest").tensors)
    with capsys.disabled():
        print(f"\nlanguage model, torch vs the NumPy trainer: max |diff| {err:.1e} ({name})")
    assert err <= TOL
    torch_meta = read_torch_folder(tmp_path / "torch")[1]["meta"]
    np.testing.assert_allclose(losses(torch_meta["history"]), losses(trainer.history),
                               rtol=1e-10)
    # imported back, `lm generate` continues a prompt as the torch model does (greedy)
    checkpoint = str(tmp_path / "imported")
    assert cli.main(["import", str(tmp_path / "torch"), "--checkpoint", checkpoint]) == 0
    capsys.readouterr()
    assert cli.main(["lm", "generate", "--checkpoint", checkpoint, "--temperature", "0",
                     "--max-new-tokens", "4", "xa"]) == 0  # 1 + 2 + 4 tokens: within context
    model, _ = load_torch_model(tmp_path / "torch")
    assert capsys.readouterr().out.strip() == "xa" + torch_greedy_text(model, trainer, "xa", 4)


def torch_greedy_text(model, trainer, prompt: str, n: int) -> str:
    """The torch model's argmax continuation of `prompt`, cut at the document separator."""
    from tinytransformer.data.documents import encode_text, separator_id

    tok = trainer.tokenizer
    sep = separator_id(tok)
    ids = torch.tensor([[sep, *encode_text(tok, prompt)]])
    with torch.no_grad():
        for _ in range(n):
            ids = torch.cat([ids, model.eval()(ids)[:, -1].argmax(-1, keepdim=True)], dim=1)
    new = ids[0, -n:].tolist()
    return tok.decode(new[:new.index(sep)] if sep in new else new)
