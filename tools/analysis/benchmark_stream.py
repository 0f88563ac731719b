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
import json
import subprocess
import sys
import time


def measure(mode: str, arch: str, size: int, frames: int, chunk: int,
            threads: int) -> dict:
    import torch

    import movinet_mm  # noqa: F401
    from movinet_mm.models import MoViNet, MoViNetHead
    from movinet_mm.utils.memory import PeakMemory, rss_bytes

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    backbone = MoViNet(arch, causal=True, conv_type='2plus1d',
                       se_type='2plus3d', activation='hard_swish',
                       gating_activation='hard_sigmoid',
                       use_positional_encoding=arch in ('a3', 'a4', 'a5'))
    backbone.init_weights()
    head = MoViNetHead(600, backbone.out_channels).eval()
    backbone.eval()
    baseline = rss_bytes()
    start = time.perf_counter()
    with torch.no_grad(), PeakMemory() as peak:
        if mode == 'stream':
            state = None
            for t in range(0, frames, chunk):
                clip = torch.rand(1, 3, min(chunk, frames - t), size, size)
                feats, backbone_state = backbone.forward_stream(clip, state)
                logits, head_state = head.forward_stream(feats, state)
                state = {**backbone_state, **head_state}
        else:
            clip = torch.rand(1, 3, frames, size, size)
            logits = head(backbone(clip))
    seconds = time.perf_counter() - start
    return {'mode': mode, 'frames': frames, 'seconds': seconds,
            'ms_per_frame': 1000 * seconds / frames,
            'peak_rss_mib': peak.bytes / 2**20,
            'extra_mib': (peak.bytes - baseline) / 2**20}


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
        result = measure(args.single[0], args.arch, args.size,
                         int(args.single[1]), args.chunk, args.threads)
        print('RESULT ' + json.dumps(result))
        return
    rows = []
    for mode in args.modes:
        for frames in args.frames:
            cmd = [sys.executable, __file__, '--single', mode, str(frames),
                   '--arch', args.arch, '--size', str(args.size), '--chunk',
                   str(args.chunk), '--threads', str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            lines = [l for l in out.stdout.splitlines()
                     if l.startswith('RESULT ')]
            if out.returncode != 0 or not lines:
                print(f'{mode} {frames}: failed\n{out.stderr[-2000:]}')
                continue
            rows.append(json.loads(lines[0][7:]))
            r = rows[-1]
            print(f'{mode:>6} {frames:>5} frames: {r["seconds"]:8.2f} s, '
                  f'{r["ms_per_frame"]:7.2f} ms/frame, peak RSS '
                  f'{r["peak_rss_mib"]:8.0f} MiB (+{r["extra_mib"]:.0f})',
                  flush=True)
    print(f'\n{args.arch}-stream (2plus1d) at {args.size}x{args.size}, '
          f'stream chunk {args.chunk} frames, {args.threads} threads\n')
    print('| mode | frames | time (s) | ms/frame | peak RSS (MiB) | '
          'above idle model (MiB) |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print(f'| {r["mode"]} | {r["frames"]} | {r["seconds"]:.2f} | '
              f'{r["ms_per_frame"]:.2f} | {r["peak_rss_mib"]:.0f} | '
              f'{r["extra_mib"]:.0f} |')
    for mode in args.modes:
        mine = [r for r in rows if r['mode'] == mode]
        if len(mine) >= 2:
            growth = 100 * (mine[-1]['peak_rss_mib'] /
                            mine[0]['peak_rss_mib'] - 1)
            print(f'{mode}: peak RSS grows {growth:+.1f}% from '
                  f'{mine[0]["frames"]} to {mine[-1]["frames"]} frames')


if __name__ == '__main__':
    main()
