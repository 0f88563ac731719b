"""Streaming vs whole-clip vs multi-clip evaluation of a causal model on a test set.

    python tools/analysis/compare_eval_modes.py CONFIG CHECKPOINT
        [--chunk-size 8] [--clip-len 12] [--num-clips 3] [--json OUT.json]
        [--cfg-options KEY=VALUE ...]

Each video of the config's test set is decoded once with its test pipeline
(which must deliver every frame to be seen, e.g. ``SampleAllFrames``) and
evaluated three ways by the same model:

- stream: the whole video in sub-clips of ``--chunk-size`` frames, the state
  carried (``stream_logits``); every frame is computed once.
- whole: one causal forward over the whole video; every frame once, but the
  activations of the whole video are alive at once.
- multi-clip: ``--num-clips`` windows of ``--clip-len`` frames spread evenly
  over the video (where MMAction2's ``SampleFrames(test_mode=True)`` puts
  them), each
  a separate forward from a zero state, their softmax scores averaged;
  overlapping frames are computed again, and no window sees the others.

It prints top-1, frames pushed through the network per video, and model time
per video (decoding excluded; batch 1, so videos of any length mix).
"""
import argparse
import json
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint

import movinet_mm  # noqa: F401  (registers the modules)
from mmaction.datasets.transforms import SampleFrames
from mmaction.registry import DATASETS, MODELS
from mmaction.utils import register_all_modules


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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--chunk-size', type=int, default=None,
                        help='stream sub-clip length (default: the config\'s '
                        'test_cfg.chunk_size, else 8)')
    parser.add_argument('--clip-len', type=int, default=None,
                        help='multi-clip window length (default: the '
                        'training clip length, train_pipeline SampleFrames)')
    parser.add_argument('--num-clips', type=int, default=3,
                        help='multi-clip windows per video')
    parser.add_argument('--max-videos', type=int, default=None)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def training_clip_len(cfg) -> int:
    for step in cfg.get('train_pipeline', []):
        if step.get('type') == 'SampleFrames':
            return int(step['clip_len'])
    raise ValueError('no SampleFrames in train_pipeline: pass --clip-len')


def main():
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type') != 'MoViNetRecognizer':
        raise SystemExit(f'{args.config}: expected a MoViNetRecognizer '
                         f'model, got {cfg.model.get("type")}')
    if not cfg.model.backbone.get('causal', False):
        raise SystemExit(f'{args.config}: streaming needs a causal backbone')
    chunk_size = args.chunk_size or cfg.get('test_cfg', {}).get(
        'chunk_size', 8)
    clip_len = args.clip_len or training_clip_len(cfg)
    if min(chunk_size, clip_len, args.num_clips) < 1:
        raise SystemExit('--chunk-size, --clip-len and --num-clips must be '
                         '>= 1')
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu',
                    logger='silent')
    model.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    count = len(dataset) if args.max_videos is None else min(
        args.max_videos, len(dataset))

    modes = ('stream', 'whole', 'multi-clip')
    correct = dict.fromkeys(modes, 0)
    frames = dict.fromkeys(modes, 0)
    seconds = dict.fromkeys(modes, 0.0)
    max_diff = 0.0
    with torch.no_grad():
        for i in range(count):
            data = model.data_preprocessor(pseudo_collate([dataset[i]]),
                                           False)
            inputs = data['inputs']
            if inputs.dim() == 6:  # [N, V, C, T, H, W]: the first view
                inputs = inputs[:, 0]
            label = int(data['data_samples'][0].gt_label)
            result = evaluate(model, inputs, chunk_size, clip_len,
                              args.num_clips)
            for mode, (scores, computed, secs) in result.items():
                correct[mode] += int(scores.argmax(-1).item() == label)
                frames[mode] += computed
                seconds[mode] += secs
            max_diff = max(max_diff, (result['stream'][0] -
                                      result['whole'][0]).abs().max().item())
            print(f'\r{i + 1}/{count} videos', end='', flush=True)
    print()

    report = {
        'config': args.config,
        'checkpoint': args.checkpoint,
        'num_videos': count,
        'chunk_size': chunk_size,
        'clip_len': clip_len,
        'num_clips': args.num_clips,
        'threads': torch.get_num_threads(),
        'max_abs_diff_stream_whole_logits': max_diff,
        'modes': {
            mode: {
                'top1': correct[mode] / count,
                'frames_per_video': frames[mode] / count,
                'ms_per_video': 1000 * seconds[mode] / count,
            }
            for mode in modes
        },
    }
    print(f'{count} videos; stream chunks of {chunk_size} frames; '
          f'multi-clip: {args.num_clips} x {clip_len} frames; '
          f'{report["threads"]} threads')
    print(f'{"mode":<12}{"top-1 %":>9}{"frames/video":>14}{"ms/video":>10}')
    for mode, row in report['modes'].items():
        print(f'{mode:<12}{100 * row["top1"]:>9.1f}'
              f'{row["frames_per_video"]:>14.1f}{row["ms_per_video"]:>10.1f}')
    print(f'max |stream - whole| logits: {max_diff:.2e}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
