"""Merge member checkpoints into one EnsembleRecognizer checkpoint.

    python tools/merge_ensemble_checkpoints.py MEMBER0.pth MEMBER1.pth ...
        --out ensemble.pth [--config ENSEMBLE_CONFIG]

Member i's weights become ``members.{i}.*``. The members must be MoViNet
recognizer checkpoints (tensors only in their state dicts) with the same
classes, and, without ``--config`` or ``--mixed``, the same model (every
key, every shape). ``--out`` may not be a member or a directory. With
``--config`` the merged
weights are checked against the ensemble config (every key, every shape)
before anything is written. The output is a tensor-only state dict
(``torch.load(..., weights_only=True)`` works), written atomically; then
``mim test movinet_mm ENSEMBLE_CONFIG --checkpoint ensemble.pth``.
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict

import torch

# runnable as a script from anywhere in a source checkout
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def member_state_dict(path: str) -> 'OrderedDict':
    from movinet_mm.utils import read_checkpoint
    # read_checkpoint refuses missing, empty and unreadable files and state
    # dicts with non-tensor entries, naming the file.
    return OrderedDict(read_checkpoint(path)['state_dict'])


def check_members(states, paths, mixed: bool = False):
    """The members must be MoViNet recognizers with the same classes; with
    other architectures (base/stream, arch, conv type) only if ``mixed``."""
    from movinet_mm.utils.checkpoint import summarise_checkpoint
    summaries = []
    for path, state in zip(paths, states):
        found = summarise_checkpoint(state)
        if len(found) != 1 or found[0][0] != '':
            raise SystemExit(f'{path} is not a MoViNetRecognizer checkpoint '
                             '(expected backbone.* and cls_head.* tensors'
                             + (f', found {len(found)} MoViNets' if found
                                else '') + ')')
        summary = found[0][1]
        if summary.num_classes is None:
            raise SystemExit(f'{path} has no classifier (cls_head.fc_cls)')
        summaries.append(summary)
    described = '; '.join(f'member {i} ({osp.basename(p)}): {s}'
                          for i, (p, s) in enumerate(zip(paths, summaries)))
    if len({s.num_classes for s in summaries}) > 1:
        raise SystemExit('the members have different numbers of classes: '
                         + described)
    shapes = [{k: tuple(v.shape) for k, v in st.items()} for st in states]
    same_model = all(sh == shapes[0] for sh in shapes[1:])
    if not same_model and not mixed:
        raise SystemExit(
            'the members are different models: ' + described + '; pass '
            '--config ENSEMBLE_CONFIG to check them against an ensemble '
            'with different members (e.g. A6 = A4 + A5), or --mixed')
    return summaries


def merge(paths, states=None):
    merged = OrderedDict()
    states = states or [member_state_dict(p) for p in paths]
    for i, state in enumerate(states):
        for key, value in state.items():
            merged[f'members.{i}.{key}'] = value
    return merged


def check_against_config(merged, config: str) -> None:
    from mmaction.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.registry import MODELS

    import movinet_mm  # noqa: F401
    register_all_modules()
    cfg = Config.fromfile(config)
    model_cfg = cfg.model.copy()
    model_cfg.pop('member_checkpoints', None)
    expected = MODELS.build(model_cfg).state_dict()
    problems = [f'missing {k}' for k in expected if k not in merged]
    problems += [f'unexpected {k}' for k in merged if k not in expected]
    problems += [f'{k}: {tuple(merged[k].shape)} != {tuple(v.shape)}'
                 for k, v in expected.items()
                 if k in merged and merged[k].shape != v.shape]
    if problems:
        raise SystemExit(f'the members do not match {config}: '
                         + '; '.join(problems[:10]) +
                         (f' ... ({len(problems)} problems)'
                          if len(problems) > 10 else ''))


def save_atomic(obj, path: str) -> str:
    from movinet_mm.utils import atomic_output_file, sha256_file
    with atomic_output_file(path) as tmp:
        torch.save(obj, tmp)
    return sha256_file(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('members', nargs='+', help='member checkpoints, in '
                        "the order of the ensemble config's members")
    parser.add_argument('--out', required=True)
    parser.add_argument('--config', help='ensemble config to check against')
    parser.add_argument('--mixed', action='store_true',
                        help='allow members of different architectures '
                        'without --config')
    args = parser.parse_args(argv)
    if len(args.members) < 2:
        raise SystemExit('an ensemble needs at least 2 member checkpoints')
    import warnings
    warnings.filterwarnings(
        'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    from movinet_mm.utils import CheckpointError, check_output_path
    try:
        check_output_path(args.out, [*args.members, args.config],
                          what='--out')
        states = [member_state_dict(p) for p in args.members]
    except (CheckpointError, ValueError) as error:
        raise SystemExit(f'error: {error}') from None
    summaries = check_members(states, args.members,
                              mixed=args.mixed or bool(args.config))
    merged = merge(args.members, states)
    if args.config:
        check_against_config(merged, args.config)
    digest = save_atomic({'state_dict': merged,
                          'meta': {'ensemble_members': list(args.members)}},
                         args.out)
    for i, summary in enumerate(summaries):
        print(f'member {i}: {summary}')
    print(f'merged {len(args.members)} members ({len(merged)} tensors) into '
          f'{args.out}\nsha256 {digest}')


if __name__ == '__main__':
    main()
