"""CPU training step of MoViNet-A0-Stream, before and after the fast form.

    python tools/analysis/benchmark_training_step.py                # both inputs
    python tools/analysis/benchmark_training_step.py --inputs 8x12x40 \\
        --threads 1 --runs 9 --json out.json                        # a small run

The demo's model, loss and optimizer (configs/movinet_a0_stream_synthetic.py)
on random clips of ``--inputs`` (batch x frames x size; default the demo's
8 x 12 x 40x40 and 8 x 8 x 172x172), at each ``--threads``. Each step is
timed as forward / backward / optimizer; "before" is the plain formulation
(``reference_ops``), "after" the default fast form, alternating step by step
in one process. Prints a markdown table of the medians.
"""
import argparse
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from movinet_mm.analysis.benchmark_utils import write_json
from movinet_mm.analysis.training_step import (
    CONFIG,
    INPUTS,
    markdown_table,
    parse_input,
    run,
)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--inputs', nargs='+', type=parse_input,
                   default=list(INPUTS),
                   help='BATCHxFRAMESxSIZE (default: 8x12x40 8x8x172)')
    p.add_argument('--threads', nargs='+', type=int, default=[1, 2])
    p.add_argument('--runs', type=int, default=5,
                   help='timed steps per variant (median)')
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--json', help='also write the result to this JSON file')
    args = p.parse_args()
    result = run(args.inputs, args.threads, args.runs, args.config)
    print()
    print(markdown_table(result))
    if args.json:
        write_json(args.json, result)


if __name__ == '__main__':
    main()
