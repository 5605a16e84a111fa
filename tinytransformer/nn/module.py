"""Module: a container of parameters and sub-modules, as in `torch.nn.Module`.

Assigning a `Parameter` or a `Module` to an attribute registers it, in assignment order, so
`named_parameters()` yields dotted names ("encoder.layers.0.self_attn.in_proj.weight") in a
fixed order. Arrays a module computes from its config (the sinusoidal position table) are
plain attributes: they are not parameters and not in `state_dict()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from ..tensor import Tensor, no_grad


class Parameter(Tensor):
    """A Tensor a module learns: floating, requires_grad=True."""

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of every layer and model: parameters, children, train/eval, state dicts."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attribute {name!r}")
        for table in (self._parameters, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- walking the tree -------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every descendant, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) in registration order; a shared parameter appears once."""
        seen = set()
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # -- modes, gradients, dtype ----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set the `training` flag (dropout on) on this module and all descendants."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, dtype) -> Module:
        """Convert every parameter's array (the Parameter objects stay, so optimisers built
        afterwards see the new arrays; build the optimiser after converting)."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: dtype must be floating, got {dtype}")
        for m in self.modules():
            for p in m._parameters.values():
                p.data, p.grad = p.data.astype(dtype), None
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # -- state dicts ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """{dotted name: a copy of the parameter's array}, in `named_parameters` order."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters (cast to each parameter's dtype).

        Refuses, in one message naming all of them, entries whose shape differs and, when
        `strict`, parameters missing from `state` and entries the model does not have.
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        misshaped = [f"{k}: model {params[k].shape}, state {np.shape(state[k])}"
                     for k in params if k in state and np.shape(state[k]) != params[k].shape]
        problems = [(what, items) for what, items in
                    (("missing", missing if strict else []),
                     ("unexpected", unexpected if strict else []), ("mis-shaped", misshaped))
                    if items]
        if problems:
            lines = [f"  {what}: {', '.join(items)}" for what, items in problems]
            raise ValueError(f"{type(self).__name__}.load_state_dict refused the state dict:\n"
                           + "\n".join(lines))
        for name, p in params.items():
            if name in state:
                p.data, p.grad = np.array(state[name], dtype=p.dtype), None

    # -- printing ---------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        """Like torch: the extra_repr, then each child indented; repeated layers collapsed."""
        lines = [self.extra_repr()] if self.extra_repr() and self._modules else []
        for names, body in _runs(self._modules):
            label = names[0] if len(names) == 1 else f"{names[0]}-{names[-1]}"
            count = "" if len(names) == 1 else f"{len(names)} x "
            lines.append(f"({label}): {count}{body}".replace("\n", "\n  "))
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _runs(children: dict) -> list[tuple[list[str], str]]:
    """Group consecutive numbered children with the same repr: [(["0", "1"], repr), ...]."""
    runs = []
    for name, child in children.items():
        body = repr(child)
        if runs and name.isdigit() and runs[-1][0][-1].isdigit() and runs[-1][1] == body:
            runs[-1][0].append(name)
        else:
            runs.append(([name], body))
    return runs


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ...  (e.g. the layers of a stack)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)


@contextlib.contextmanager
def inference(model):
    """Eval mode and no graph, restoring the model's mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)
