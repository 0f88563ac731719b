"""Peak memory and time of one training step with the stream buffer (sub-clips).

    python tools/analysis/benchmark_stream_training.py [--arch a0]
        [--frames 32] [--size 112] [--batch 4] [--sub-clips 1 2 4 8]

Each setting runs in its own process: a causal '3d_2plus1d' MoViNet (as
stream models are trained) takes a few training steps on random clips of
``frames`` frames with ``train_cfg=dict(sub_clips=n)``: the clip is fed as
n sub-clips with the state carried between them, each sub-clip's loss
back-propagated at once, so only one sub-clip's activations are alive.
Memory is the peak resident set size (Linux) over all steps, in total and
above the process with the model built before its first step (gradients
included); time is the mean of the steps after the first.
"""
import argparse
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from movinet_mm.analysis.benchmark_utils import print_result, run_worker
from movinet_mm.analysis.stream_memory import measure_stream_training, training_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='a0')
    parser.add_argument('--frames', type=int, default=32)
    parser.add_argument('--size', type=int, default=112)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--sub-clips', type=int, nargs='+',
                        default=[1, 2, 4, 8])
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--single', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print_result(measure_stream_training(
            args.arch, args.frames, args.size, args.batch, args.single,
            args.steps, args.threads))
        return
    rows = []
    for n in args.sub_clips:
        cmd = [sys.executable, __file__, '--single', str(n), '--arch',
               args.arch, '--frames', str(args.frames), '--size',
               str(args.size), '--batch', str(args.batch), '--steps',
               str(args.steps), '--threads', str(args.threads)]
        r, stderr = run_worker(cmd)
        if r is None:
            print(f'sub_clips={n}: failed\n{stderr[-2000:]}')
            continue
        rows.append(r)
        print(f"sub_clips={n}: {r['seconds_per_step']:.2f} s/step, "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB "
              f"(+{r['extra_mib']:.0f})", flush=True)
    print(f'\n{args.arch}-stream (3d_2plus1d) training step, batch '
          f'{args.batch} x {args.frames} x {args.size}x{args.size}, '
          f'{args.threads} threads\n')
    print(training_table(rows))


if __name__ == '__main__':
    main()
