"""Peak memory and time of streaming (tools/analysis/benchmark_stream.py)
and of training with the stream buffer
(tools/analysis/benchmark_stream_training.py).

Each measurement is meant to run in a process of its own (the tools start
one per setting) since memory is the process's peak resident set size
(Linux VmHWM), reported in total and above the process with the model
built ("extra").
"""
import time
from typing import Sequence


def measure_stream_inference(mode: str, arch: str, size: int, frames: int,
                             chunk: int, threads: int) -> dict:
    """A randomly initialised causal (2+1)D MoViNet in eval mode, no_grad:
    ``mode`` 'stream' feeds ``frames`` frames in sub-clips of ``chunk``
    (generated one by one, so the input never grows), 'whole' one clip."""
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
                _, head_state = head.forward_stream(feats, state)
                state = {**backbone_state, **head_state}
        else:
            clip = torch.rand(1, 3, frames, size, size)
            head(backbone(clip))
    seconds = time.perf_counter() - start
    return {'mode': mode, 'frames': frames, 'seconds': seconds,
            'ms_per_frame': 1000 * seconds / frames,
            'peak_rss_mib': peak.bytes / 2**20,
            'extra_mib': (peak.bytes - baseline) / 2**20}


def inference_table(rows, modes: Sequence[str]) -> str:
    """Markdown table of :func:`measure_stream_inference` rows, and how
    much each mode's peak grows from its shortest to its longest clip."""
    lines = ['| mode | frames | time (s) | ms/frame | peak RSS (MiB) | '
             'above idle model (MiB) |', '|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f'| {r["mode"]} | {r["frames"]} | {r["seconds"]:.2f} | '
                     f'{r["ms_per_frame"]:.2f} | {r["peak_rss_mib"]:.0f} | '
                     f'{r["extra_mib"]:.0f} |')
    for mode in modes:
        mine = [r for r in rows if r['mode'] == mode]
        if len(mine) >= 2:
            growth = 100 * (mine[-1]['peak_rss_mib'] /
                            mine[0]['peak_rss_mib'] - 1)
            lines.append(f'{mode}: peak RSS grows {growth:+.1f}% from '
                         f'{mine[0]["frames"]} to {mine[-1]["frames"]} '
                         'frames')
    return '\n'.join(lines)


def measure_stream_training(arch: str, frames: int, size: int, batch: int,
                            sub_clips: int, steps: int,
                            threads: int) -> dict:
    """Training steps of a causal '3d_2plus1d' MoViNet (as stream models
    are trained) on random clips with ``train_cfg=dict(sub_clips=n)``: the
    clip goes in as n sub-clips, the state carried, each sub-clip's loss
    back-propagated at once. Time: mean of the steps after a warm-up."""
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


def training_table(rows) -> str:
    """Markdown table of :func:`measure_stream_training` rows."""
    lines = ['| sub-clips | s/step | peak RSS (MiB) | above idle model (MiB) |',
             '|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['sub_clips']} | {r['seconds_per_step']:.2f} | "
                     f"{r['peak_rss_mib']:.0f} | {r['extra_mib']:.0f} |")
    return '\n'.join(lines)
