"""python -m tinytransformer.distributed FOLDER --out OUT ...  (under torchrun for N > 1)"""

from __future__ import annotations

import argparse
import os
import sys

from ..cli.options import checked
from ..values import positive_int

EPILOG = """examples:
  torchrun --standalone --nproc-per-node 2 -m tinytransformer.distributed exports/toy \\
      --out exports/toy-ddp
  python -m tinytransformer.distributed exports/toy --out exports/toy-1   (one process)
Then `tinytransformer import OUT --checkpoint DIR` makes OUT a checkpoint `translate` reads."""
COUNT = checked(positive_int)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tinytransformer.distributed", allow_abbrev=False, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train an exported model with torch's DistributedDataParallel: each "
                    "process takes its rows of the same global batch.")
    p.add_argument("model", help="a torch folder: `tinytransformer export --to torch` wrote "
                                 "it, or an earlier run (its --out)")
    p.add_argument("--out", required=True, help="the torch folder to write")
    p.add_argument("--steps", type=COUNT,
                   help="train until the step count reaches this (default: the run's --steps)")
    p.add_argument("--batch-size", type=COUNT,
                   help="the global batch, split between the processes (default: the run's)")
    p.add_argument("--eval-every", type=COUNT,
                   help="evaluate (rank 0, the project's evaluation) and save every N steps")
    p.add_argument("--log-every", type=COUNT, default=10, help="(default: %(default)s)")
    p.add_argument("--backend", choices=["auto", "gloo", "nccl"], default="auto",
                   help="auto: nccl when CUDA is there, else gloo (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .run import Options, train
    except ImportError as e:
        print(f"tinytransformer.distributed: error: {e}; install torch with "
              f"pip install -e \".[torch]\"", file=sys.stderr)
        return 1
    try:
        train(Options(**vars(args)))
    except (ValueError, OSError, FloatingPointError) as e:  # input, files, a NaN: one line
        if os.environ.get("TINYTRANSFORMER_DEBUG") == "1":
            raise
        rank = os.environ.get("RANK", "0")
        print(f"tinytransformer.distributed (rank {rank}): error: {' '.join(str(e).split())}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
