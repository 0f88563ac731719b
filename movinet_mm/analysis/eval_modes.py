"""Streaming vs whole-clip vs multi-clip evaluation of a causal model:
top-1, frames computed and model time per video of each mode
(``tools/analysis/compare_eval_modes.py`` describes the modes and is the
command line)."""
import time
from typing import Callable, Optional

import torch
from mmaction.datasets.transforms import SampleFrames
from mmengine.dataset import pseudo_collate

MODES = ('stream', 'whole', 'multi-clip')


def window_starts(num_frames: int, clip_len: int, num_clips: int):
    """Window starts of MMAction2's ``SampleFrames(test_mode=True)``."""
    sampler = SampleFrames(clip_len, num_clips=num_clips, test_mode=True)
    return [int(s) for s in sampler._get_test_clips(num_frames, clip_len)]


def evaluate(model, inputs: torch.Tensor, chunk_size: int, clip_len: int,
             num_clips: int) -> dict:
    """Scores and cost of one video ``[1, C, T, H, W]`` in the three modes."""
    frames = inputs.shape[2]
    out = {}

    start = time.perf_counter()
    logits = model.stream_logits(inputs, [frames], chunk_size).logits
    out['stream'] = (logits, frames, time.perf_counter() - start)

    start = time.perf_counter()
    logits = model.cls_head(model.backbone(inputs))
    out['whole'] = (logits, frames, time.perf_counter() - start)

    start = time.perf_counter()
    starts = window_starts(frames, clip_len, num_clips)
    probs = [
        model.cls_head(model.backbone(inputs[:, :, s:s + clip_len]))
        .softmax(-1) for s in starts
    ]
    # averaged probabilities, as logs so that argmax and softmax agree
    scores = torch.stack(probs).mean(0).log()
    computed = sum(min(clip_len, frames - s) for s in starts)
    out['multi-clip'] = (scores, computed, time.perf_counter() - start)
    return out


def training_clip_len(cfg) -> int:
    """Clip length of the config's training SampleFrames."""
    for step in cfg.get('train_pipeline', []):
        if step.get('type') == 'SampleFrames':
            return int(step['clip_len'])
    raise ValueError('no SampleFrames in train_pipeline: pass --clip-len')


@torch.no_grad()
def compare_eval_modes(model, dataset, chunk_size: int, clip_len: int,
                       num_clips: int, max_videos: Optional[int] = None,
                       progress: Optional[Callable[[int, int], None]] = None
                       ) -> dict:
    """Top-1, frames computed and model time per video of each mode over
    the first ``max_videos`` videos of a dataset (all by default), batch 1;
    ``progress(done, count)`` after each video."""
    count = len(dataset) if max_videos is None else min(max_videos,
                                                          len(dataset))
    correct = dict.fromkeys(MODES, 0)
    frames = dict.fromkeys(MODES, 0)
    seconds = dict.fromkeys(MODES, 0.0)
    max_diff = 0.0
    for i in range(count):
        data = model.data_preprocessor(pseudo_collate([dataset[i]]), False)
        inputs = data['inputs']
        if inputs.dim() == 6:  # [N, V, C, T, H, W]: the first view
            inputs = inputs[:, 0]
        label = int(data['data_samples'][0].gt_label)
        result = evaluate(model, inputs, chunk_size, clip_len, num_clips)
        for mode, (scores, computed, secs) in result.items():
            correct[mode] += int(scores.argmax(-1).item() == label)
            frames[mode] += computed
            seconds[mode] += secs
        max_diff = max(max_diff, (result['stream'][0] -
                                  result['whole'][0]).abs().max().item())
        if progress is not None:
            progress(i + 1, count)
    return {
        'num_videos': count,
        'chunk_size': chunk_size,
        'clip_len': clip_len,
        'num_clips': num_clips,
        'threads': torch.get_num_threads(),
        'max_abs_diff_stream_whole_logits': max_diff,
        'modes': {
            mode: {
                'top1': correct[mode] / count,
                'frames_per_video': frames[mode] / count,
                'ms_per_video': 1000 * seconds[mode] / count,
            }
            for mode in MODES
        },
    }


def format_report(report: dict) -> str:
    """The settings line, a table of the modes and the stream/whole gap."""
    lines = [f'{report["num_videos"]} videos; stream chunks of '
             f'{report["chunk_size"]} frames; multi-clip: '
             f'{report["num_clips"]} x {report["clip_len"]} frames; '
             f'{report["threads"]} threads',
             f'{"mode":<12}{"top-1 %":>9}{"frames/video":>14}'
             f'{"ms/video":>10}']
    for mode, row in report['modes'].items():
        lines.append(f'{mode:<12}{100 * row["top1"]:>9.1f}'
                     f'{row["frames_per_video"]:>14.1f}'
                     f'{row["ms_per_video"]:>10.1f}')
    lines.append(f'max |stream - whole| logits: '
                 f'{report["max_abs_diff_stream_whole_logits"]:.2e}')
    return '\n'.join(lines)
