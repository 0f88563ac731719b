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
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401  (registers the modules)
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    import movinet_mm  # noqa: F401

import torch
from mmaction.registry import DATASETS, MODELS
from mmaction.utils import register_all_modules
from mmengine.config import Config, DictAction
from mmengine.runner import load_checkpoint

from movinet_mm.analysis import eval_modes
from movinet_mm.utils.files import check_output_path, write_json_atomic


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


def main():
    args = parse_args()
    if args.json:
        try:
            check_output_path(args.json, [args.config, args.checkpoint],
                              what='--json')
        except ValueError as error:
            raise SystemExit(f'error: {error}') from None
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
    clip_len = args.clip_len or eval_modes.training_clip_len(cfg)
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
    result = eval_modes.compare_eval_modes(
        model, dataset, chunk_size, clip_len, args.num_clips,
        args.max_videos, progress=lambda done, count: print(
            f'\r{done}/{count} videos', end='', flush=True))
    print()
    report = dict(config=args.config, checkpoint=args.checkpoint, **result)
    print(eval_modes.format_report(report))
    if args.json:
        write_json_atomic(args.json, report, indent=2)


if __name__ == '__main__':
    main()
