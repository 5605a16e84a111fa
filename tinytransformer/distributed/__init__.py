"""Training an exported model on PyTorch's DistributedDataParallel, under torchrun.

    tinytransformer export --checkpoint runs/toy/best --to torch exports/toy
    torchrun --standalone --nproc-per-node 2 -m tinytransformer.distributed exports/toy \\
        --out exports/toy-ddp --steps 3000
    tinytransformer import exports/toy-ddp --checkpoint runs/toy-ddp/latest
    tinytransformer translate --checkpoint runs/toy-ddp/latest "i read books at home ."

N processes (gloo on CPU, NCCL with CUDA) each hold a copy of the model and take their rows of
the same global batch; DDP averages the gradients, so every step equals the single-process
step on the whole batch (`run.py` shows why). The data, the learning-rate schedule, the
optimizer's settings and the evaluation are the project's own trainers' (`recipes.py`), and
AdamW's moments travel with the weights, so a torch run continues the NumPy run it was
exported from, and `train --resume` continues the torch run once imported as RUN/latest.
torch is needed: `pip install -e ".[torch]"`.

    run.py       the process group, DDP, the training step, evaluation and saving
    recipes.py   what comes from the project's trainers; each model kind's loss
    __main__.py  the command line
"""
