# Copyright (c) movinet_mm contributors.
"""Multiply-accumulates (MACs) and parameters of a config's recognizer.

Counts the multiply-accumulates of every convolution and linear layer on
one clip ``[1, 3, T, H, W]`` (what the MoViNet papers call GFLOPs; A0 at
50x172x172: 2.63 G) with :mod:`movinet_mm.analysis.flops`, which says what
is counted.

Examples::

    python tools/analysis/get_flops.py configs/movinet_a0_k600.py
    python tools/analysis/get_flops.py configs/movinet_a5_k600.py \
        --shape 120 320 320 --extrapolate-time

Without ``--shape`` the input is the config's test clip (frames of the test
pipeline's SampleFrames x its CenterCrop size).
"""
import argparse
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401  (fills MMAction2's registries)
except ImportError:  # a source checkout that is not installed
    sys.path.insert(
        0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import movinet_mm  # noqa: F401

import torch
from mmengine.config import Config, DictAction

# count_macs*: tests and scripts that load this file by path use them
from movinet_mm.analysis.flops import (  # noqa: F401
    count_macs,
    count_macs_extrapolated,
    format_table,
    get_flops,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Count the multiply-accumulates and parameters of a '
        "config's recognizer on one clip")
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=3,
        metavar=('T', 'H', 'W'),
        help='clip frames, height and width (default: the test clip of the '
        'config)')
    parser.add_argument(
        '--extrapolate-time',
        action='store_true',
        help='count at T=1 and T=2 and extrapolate linearly to T (exact for '
        'MoViNets: no layer strides in time, so every count is a + b*T); '
        'fast for long clips')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_flush_denormal(True)  # random weights: avoid slow denormals
    if not osp.isfile(args.config):
        raise SystemExit(f'get_flops.py: error: no such config file: '
                         f'{args.config}')
    try:
        cfg = Config.fromfile(args.config)
    except Exception as error:  # syntax errors, bad _base_ paths, ...
        raise SystemExit(f'get_flops.py: error: cannot read the config '
                         f'{args.config}: {type(error).__name__}: '
                         f'{str(error).splitlines()[0] if str(error) else ""}')
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    try:
        result = get_flops(cfg, args.shape, args.extrapolate_time)
    except (ValueError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) else error
        raise SystemExit(f'get_flops.py: error: {message}')
    print(format_table(args.config, result, args.extrapolate_time))
    return result


if __name__ == '__main__':
    main()
