# Adapted from MMAction2's tools/test.py (Apache-2.0).
"""Test (and evaluate) a checkpoint with an MMEngine config.

Examples::

    python tools/test.py configs/movinet_a0_k600.py work_dirs/x/epoch_240.pth
    python -m mim test movinet_mm configs/movinet_a0_k600.py --checkpoint CKPT
    bash tools/dist_test.sh configs/movinet_a0_k600.py CKPT 8
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

from movinet_mm.utils import CheckpointError, check_output_path, read_checkpoint
from movinet_mm.utils.config import merge_cfg_options


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) an action recognizer (movinet_mm)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--dump',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='run the test loop under fp16 autocast (GPU)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs merged '
        'into it, e.g. test_dataloader.batch_size=1; lists as key="[a,b]" '
        'or key=a,b, nested as key="[(a,b),(c,d)]" (quotes needed, no '
        'spaces)')
    parser.add_argument(
        '--show-dir',
        help='directory where the visualization images will be saved')
    parser.add_argument(
        '--show',
        action='store_true',
        help='display the prediction results in a window')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='visualize one sample in every `interval`')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='display time of every window (seconds)')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='load the checkpoint even if it does not fit the model (the '
        'tensors that fit; one line says what was not loaded). By default '
        'a checkpoint of another model is an error')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch (used by `mim test --launcher pytorch`)
    # passes --local-rank; older versions passed --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge the command line arguments into the config."""
    if args.show or args.show_dir is not None:
        default_hooks = cfg.setdefault('default_hooks', {})
        default_hooks.setdefault('visualization',
                                 dict(type='VisualizationHook'))
        vis = default_hooks['visualization']
        vis['enable'] = True
        vis['show'] = args.show
        vis['wait_time'] = args.wait_time
        vis['out_dir'] = args.show_dir
        vis['interval'] = args.interval

    if args.dump is not None:
        assert args.dump.endswith(('.pkl', '.pickle')), \
            'The dump file must be a pkl file.'
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        if isinstance(cfg.test_evaluator, (list, tuple)):
            cfg.test_evaluator = list(cfg.test_evaluator) + [dump_metric]
        else:
            cfg.test_evaluator = [cfg.test_evaluator, dump_metric]

    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or dict(type='TestLoop'))
        cfg.test_cfg['fp16'] = True

    cfg.launcher = args.launcher
    merge_cfg_options(cfg, args.cfg_options)

    # work_dir: command line > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    cfg.load_from = args.checkpoint
    # Strict unless asked: MMEngine's Runner alone loads non-strictly.
    cfg.setdefault('runner_type', 'CheckedLoadRunner')
    cfg.load_strict = not args.non_strict
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if args.dump is not None:
        try:
            check_output_path(args.dump, [args.config, args.checkpoint],
                              what='--dump')
        except ValueError as error:
            raise SystemExit(f'error: {error}') from None
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)

    try:
        read_checkpoint(args.checkpoint)  # fail before building anything
        runner = RUNNERS.build(cfg)
        runner.test()
    except CheckpointError as error:
        raise SystemExit(f'error: {error}') from None


if __name__ == '__main__':
    main()
