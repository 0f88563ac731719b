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
import json
import subprocess
import sys
import time


def measure(arch, frames, size, batch, sub_clips, steps, threads):
    import torch
    from mmaction.structures import ActionDataSample
    from mmaction.utils import register_all_modules
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODELS

    import movinet_mm  # noqa: F401
    from movinet_mm.models import ARCH_SPECS
    from movinet_mm.utils.memory import PeakMemory, rss_bytes

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    register_all_modules()
    model = MODELS.build(dict(
        type='MoViNetRecognizer',
        backbone=dict(type='MoViNet', arch=arch, causal=True,
                      conv_type='3d_2plus1d', se_type='2plus3d',
                      activation='hard_swish',
                      gating_activation='hard_sigmoid',
                      use_positional_encoding=arch in ('a3', 'a4', 'a5')),
        cls_head=dict(type='MoViNetHead', num_classes=10,
                      in_channels=ARCH_SPECS[arch].project_channels),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               mean=[0., 0., 0.], std=[255., 255., 255.],
                               format_shape='NCTHW'),
        train_cfg=dict(sub_clips=sub_clips)))
    model.init_weights()
    model.train()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))

    def batch_data():
        return dict(
            inputs=[torch.randint(0, 255, (1, 3, frames, size, size),
                                  dtype=torch.uint8) for _ in range(batch)],
            data_samples=[ActionDataSample().set_gt_label(i % 10)
                          for i in range(batch)])

    baseline = rss_bytes()
    times = []
    with PeakMemory() as peak:
        model.train_step(batch_data(), wrapper)  # warm-up, not timed
        for _ in range(steps):
            data = batch_data()
            start = time.perf_counter()
            model.train_step(data, wrapper)
            times.append(time.perf_counter() - start)
    return {'sub_clips': sub_clips, 'seconds_per_step': sum(times) / steps,
            'peak_rss_mib': peak.bytes / 2**20,
            'extra_mib': (peak.bytes - baseline) / 2**20}


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
        print('RESULT ' + json.dumps(measure(
            args.arch, args.frames, args.size, args.batch, args.single,
            args.steps, args.threads)))
        return
    rows = []
    for n in args.sub_clips:
        cmd = [sys.executable, __file__, '--single', str(n), '--arch',
               args.arch, '--frames', str(args.frames), '--size',
               str(args.size), '--batch', str(args.batch), '--steps',
               str(args.steps), '--threads', str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        lines = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
        if out.returncode or not lines:
            print(f'sub_clips={n}: failed\n{out.stderr[-2000:]}')
            continue
        rows.append(json.loads(lines[0][7:]))
        print(f"sub_clips={n}: {rows[-1]['seconds_per_step']:.2f} s/step, "
              f"peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB "
              f"(+{rows[-1]['extra_mib']:.0f})", flush=True)
    print(f'\n{args.arch}-stream (3d_2plus1d) training step, batch '
          f'{args.batch} x {args.frames} x {args.size}x{args.size}, '
          f'{args.threads} threads\n')
    print('| sub-clips | s/step | peak RSS (MiB) | above idle model (MiB) |')
    print('|---|---|---|---|')
    for r in rows:
        print(f"| {r['sub_clips']} | {r['seconds_per_step']:.2f} | "
              f"{r['peak_rss_mib']:.0f} | {r['extra_mib']:.0f} |")


if __name__ == '__main__':
    main()
