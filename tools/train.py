# Adapted from MMAction2's tools/train.py (Apache-2.0).
"""Train a MoViNet (or any MMAction2 recognizer) from an MMEngine config.

Examples::

    python tools/train.py configs/movinet_a0_k600.py
    python -m mim train movinet_mm configs/movinet_a0_k600.py     # same
    bash tools/dist_train.sh configs/movinet_a2_k600.py 8          # 8 GPUs
"""
import argparse
import os
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401  (fills MMAction2's registries)
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import movinet_mm  # noqa: F401

from mmaction.registry import RUNNERS
from mmengine.config import Config, DictAction

from movinet_mm.utils import CheckpointError
from movinet_mm.utils.config import merge_cfg_options


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train an action recognizer (movinet_mm)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or, without a path, from the '
        'latest checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate linearly to the real total batch size '
        '(movinet_mm configs already enable it)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='use a different seed on each rank')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='set deterministic options for the CUDNN backend')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs merged '
        'into it, e.g. train_dataloader.batch_size=8; lists as key="[a,b]" '
        'or key=a,b, nested as key="[(a,b),(c,d)]" (quotes needed, no '
        'spaces)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch (used by `mim train --launcher pytorch`)
    # passes --local-rank; older versions passed --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge the command line arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir: command line > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        amp_types = {
            'OptimWrapper': 'AmpOptimWrapper',
            'AmpOptimWrapper': 'AmpOptimWrapper',
            'PerVariableClipOptimWrapper': 'PerVariableClipAmpOptimWrapper',
            'PerVariableClipAmpOptimWrapper': 'PerVariableClipAmpOptimWrapper',
        }
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in amp_types:
            raise ValueError('`--amp` is not supported with the custom '
                             f'optimizer wrapper `{optim_wrapper}`')
        cfg.optim_wrapper.type = amp_types[optim_wrapper]
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})
        cfg.auto_scale_lr.enable = True
        assert 'base_batch_size' in cfg.auto_scale_lr, \
            '--auto-scale-lr needs auto_scale_lr.base_batch_size in the config'

    if cfg.get('randomness', None) is None:
        cfg.randomness = dict(
            seed=args.seed,
            diff_rank_seed=args.diff_rank_seed,
            deterministic=args.deterministic)

    merge_cfg_options(cfg, args.cfg_options)

    # load_from (fine-tuning) loads what fits and logs one line on what was
    # not loaded; --resume loads strictly.
    cfg.setdefault('runner_type', 'CheckedLoadRunner')
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)

    try:
        runner = RUNNERS.build(cfg)
        runner.train()
    except CheckpointError as error:
        raise SystemExit(f'error: {error}') from None


if __name__ == '__main__':
    main()
