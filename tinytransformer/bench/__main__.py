"""python -m tinytransformer.bench: the same as `tinytransformer bench`."""

import argparse

from . import __doc__, add_arguments, run

parser = argparse.ArgumentParser(prog="python -m tinytransformer.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
add_arguments(parser)
raise SystemExit(run(parser.parse_args()))
