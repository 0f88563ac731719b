"""Peak memory and time of streaming vs whole-clip inference, by clip length.

    python tools/analysis/benchmark_stream.py [--arch a0] [--size 172]
        [--frames 64 256 1024] [--chunk 8] [--threads N]

Each measurement runs in its own process (so peaks do not mix) with a
randomly initialised causal (2+1)D MoViNet in eval mode under no_grad.
Frames are generated chunk by chunk in stream mode, so the input itself
never grows; the whole-clip forward gets the whole [1, 3, N, H, W] clip.
Memory is the process's peak resident set size (Linux VmHWM), reported
both in total and above the idle process with the model built ("extra").
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
from movinet_mm.analysis.stream_memory import inference_table, measure_stream_inference


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='a0')
    parser.add_argument('--size', type=int, default=172)
    parser.add_argument('--frames', type=int, nargs='+',
                        default=[64, 256, 1024])
    parser.add_argument('--chunk', type=int, default=8,
                        help='frames per stream step')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--modes', nargs='+', default=['stream', 'whole'])
    parser.add_argument('--single', nargs=2, metavar=('MODE', 'FRAMES'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print_result(measure_stream_inference(
            args.single[0], args.arch, args.size, int(args.single[1]),
            args.chunk, args.threads))
        return
    rows = []
    for mode in args.modes:
        for frames in args.frames:
            cmd = [sys.executable, __file__, '--single', mode, str(frames),
                   '--arch', args.arch, '--size', str(args.size), '--chunk',
                   str(args.chunk), '--threads', str(args.threads)]
            r, stderr = run_worker(cmd)
            if r is None:
                print(f'{mode} {frames}: failed\n{stderr[-2000:]}')
                continue
            rows.append(r)
            print(f'{mode:>6} {frames:>5} frames: {r["seconds"]:8.2f} s, '
                  f'{r["ms_per_frame"]:7.2f} ms/frame, peak RSS '
                  f'{r["peak_rss_mib"]:8.0f} MiB (+{r["extra_mib"]:.0f})',
                  flush=True)
    print(f'\n{args.arch}-stream (2plus1d) at {args.size}x{args.size}, '
          f'stream chunk {args.chunk} frames, {args.threads} threads\n')
    print(inference_table(rows, args.modes))


if __name__ == '__main__':
    main()
