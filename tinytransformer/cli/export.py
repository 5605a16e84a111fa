"""Moving a model to PyTorch and back: export, import.

    tinytransformer export --checkpoint runs/toy/best --to torch exports/toy
    torchrun --standalone --nproc-per-node 2 -m tinytransformer.distributed exports/toy --out ...
    tinytransformer import exports/toy-ddp --checkpoint runs/toy-ddp/best

The folder holds model.safetensors (torch's names) and config.json (the config, vocabularies
or tokenizer, the training settings); `tinytransformer.interop.load_torch_model` builds the
torch module from it. No pickle either way.
"""

from __future__ import annotations

from .options import CommandError

FORMATS = ("torch",)


def add_export(p) -> None:
    p.add_argument("--checkpoint", default="runs/toy/best",
                   help="a checkpoint folder of the translator or the language model "
                        "(default: %(default)s)")
    p.add_argument("--to", choices=FORMATS, default="torch",
                   help="torch: model.safetensors + config.json (default: %(default)s)")
    p.add_argument("out", help="the folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder there")


def run_export(args) -> int:
    from ..checkpoint import checkpoint_exists
    from ..interop import export_checkpoint

    if not checkpoint_exists(args.checkpoint):
        raise CommandError(f"{args.checkpoint}: no checkpoint there; train one first "
                           f"(`tinytransformer train`), or pass --checkpoint DIR")
    out = export_checkpoint(args.checkpoint, args.out, args.overwrite)
    print(f"exported {args.checkpoint} to {out} (model.safetensors + config.json); train it "
          f"with `torchrun --nproc-per-node N -m tinytransformer.distributed {args.out} "
          f"--out DIR`, load it with tinytransformer.interop.load_torch_model")
    return 0


def add_import(p) -> None:
    p.add_argument("folder", help="a torch folder: written by `export --to torch` or by "
                                  "`python -m tinytransformer.distributed`")
    p.add_argument("--checkpoint", required=True,
                   help="the checkpoint folder to write, for translate, attention, lm generate")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint")


def run_import(args) -> int:
    from ..interop import import_checkpoint

    out = import_checkpoint(args.folder, args.checkpoint, args.overwrite)
    print(f"imported {args.folder} as the checkpoint {out}")
    return 0


COMMANDS = {
    "export": (add_export, run_export, "write a checkpoint as a PyTorch model folder"),
    "import": (add_import, run_import, "write a PyTorch model folder back as a checkpoint"),
}
