"""Move models between tinytransformer and PyTorch (torch is imported lazily; never required).

    convert.py      parameter names, state dicts and masks between ours and torch.nn's
    translator.py   TorchTranslator: the translator on torch.nn.Transformer (imports torch)
    lm.py           TorchLanguageModel: the language model on a causal torch.nn.TransformerEncoder
    files.py        export / import: a checkpoint <-> a folder of safetensors + JSON for torch
    optimizer.py    AdamW's moments and step counts <-> torch.optim.AdamW's, by parameter name
    llama.py        the LLaMA model <-> a folder transformers' LlamaForCausalLM loads

    model, ref = Transformer(config), torch_model(config)
    ref.load_state_dict(to_torch_state_dict(model))        # the same function, in torch
    export_checkpoint("runs/toy/best", "exports/toy")        # for `python -m ...distributed`
"""

from .convert import (
    from_torch_mask,
    from_torch_state_dict,
    our_name,
    to_torch_mask,
    to_torch_names,
    to_torch_state_dict,
    torch_name,
)
from .files import (
    export_checkpoint,
    import_checkpoint,
    load_torch_model,
    read_torch_folder,
    save_torch_folder,
    torch_model,
)
from .llama import load_llama_folder, save_llama_folder

__all__ = [
    "torch_name", "our_name", "to_torch_names", "to_torch_state_dict", "from_torch_state_dict",
    "to_torch_mask", "from_torch_mask", "torch_model", "export_checkpoint", "import_checkpoint",
    "load_torch_model", "read_torch_folder", "save_torch_folder", "save_llama_folder",
    "load_llama_folder",
]
