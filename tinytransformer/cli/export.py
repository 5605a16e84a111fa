"""Moving a model to PyTorch and back: export, import.

    tinytransformer export --checkpoint runs/toy/best --to torch exports/toy
    torchrun --standalone --nproc-per-node 2 -m tinytransformer.distributed exports/toy --out ...
    tinytransformer import exports/toy-ddp --checkpoint runs/toy-ddp/latest

The folder holds model.safetensors (torch's names), config.json (the config, vocabularies or
tokenizer, the training settings) and optimizer.safetensors (AdamW's state, by name);
`tinytransformer.interop.load_torch_model` builds the torch module from it. No pickle. The
pretrained LLM (`--checkpoint smollm2` or a .gguf file) is written as transformers'
LlamaForCausalLM folder instead (`interop/llama.py`).
"""

from __future__ import annotations

from .options import CommandError

FORMATS = ("torch",)


def add_export(p) -> None:
    p.add_argument("--checkpoint", default="runs/toy/best",
                   help="a checkpoint folder of the translator or the language model, or the "
                        "LLM: smollm2 (fetched) or a .gguf file (default: %(default)s)")
    p.add_argument("--to", choices=FORMATS, default="torch",
                   help="torch: model.safetensors + config.json (default: %(default)s)")
    p.add_argument("out", help="the folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder there")


def run_export(args) -> int:
    from ..checkpoint import checkpoint_exists
    from ..interop import export_checkpoint

    if (gguf := _gguf_file(args.checkpoint)) is not None:
        return _export_llama(gguf, args)
    if not checkpoint_exists(args.checkpoint):
        raise CommandError(f"{args.checkpoint}: no checkpoint there; train one first "
                           f"(`tinytransformer train`), or pass --checkpoint DIR")
    out = export_checkpoint(args.checkpoint, args.out, args.overwrite)
    print(f"exported {args.checkpoint} to {out} (model.safetensors + config.json); train it "
          f"with `torchrun --nproc-per-node N -m tinytransformer.distributed {args.out} "
          f"--out DIR`, load it with tinytransformer.interop.load_torch_model")
    return 0


def _gguf_file(name: str):
    """The GGUF file `name` stands for (a fetched model's name, or a .gguf path), else None."""
    from pathlib import Path

    from ..pretrained import MODELS, model_path

    if name in MODELS:
        return model_path(name)  # not fetched: an error naming `tinytransformer fetch`
    return Path(name) if name.endswith(".gguf") else None


def _export_llama(gguf, args) -> int:
    """The LLM as transformers' LlamaForCausalLM folder (interop/llama.py says why)."""
    from ..interop.files import refuse_existing
    from ..interop.llama import save_llama_folder
    from ..models import Llama

    if not gguf.is_file():
        raise CommandError(f"{gguf}: no such GGUF file")
    refuse_existing(args.out, args.overwrite)
    out = save_llama_folder(Llama.from_gguf(gguf), args.out)
    print(f"exported {gguf} to {out} as transformers' LlamaForCausalLM (config.json + "
          f"model.safetensors): LlamaForCausalLM.from_pretrained({str(out)!r}); its tokenizer "
          f"loads from the GGUF file: AutoTokenizer.from_pretrained({str(gguf.parent)!r}, "
          f"gguf_file={gguf.name!r})")
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
