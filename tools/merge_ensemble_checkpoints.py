"""Merge member checkpoints into one EnsembleRecognizer checkpoint.

    python tools/merge_ensemble_checkpoints.py MEMBER0.pth MEMBER1.pth ...
        --out ensemble.pth [--config ENSEMBLE_CONFIG]

Member i's weights become ``members.{i}.*``. With ``--config`` the merged
weights are checked against the ensemble config (every key, every shape)
before anything is written. The output is a tensor-only state dict
(``torch.load(..., weights_only=True)`` works), written atomically; then
``mim test movinet_mm ENSEMBLE_CONFIG --checkpoint ensemble.pth``.
"""
import argparse
import hashlib
import os
import os.path as osp
import tempfile
from collections import OrderedDict

import torch


def member_state_dict(path: str) -> 'OrderedDict':
    if not osp.isfile(path):
        raise SystemExit(f'no such checkpoint: {path}')
    # Training checkpoints written by MMEngine pickle more than tensors;
    # they are the user's own files, like any pickle they wrote.
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        raise SystemExit(f'{path} holds no state dict')
    return OrderedDict((k[7:] if k.startswith('module.') else k, v)
                       for k, v in state.items())


def merge(paths):
    merged = OrderedDict()
    for i, path in enumerate(paths):
        for key, value in member_state_dict(path).items():
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
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('members', nargs='+', help='member checkpoints, in '
                        "the order of the ensemble config's members")
    parser.add_argument('--out', required=True)
    parser.add_argument('--config', help='ensemble config to check against')
    args = parser.parse_args(argv)
    if len(args.members) < 2:
        raise SystemExit('an ensemble needs at least 2 member checkpoints')
    merged = merge(args.members)
    if args.config:
        check_against_config(merged, args.config)
    digest = save_atomic({'state_dict': merged,
                          'meta': {'ensemble_members': list(args.members)}},
                         args.out)
    print(f'merged {len(args.members)} members ({len(merged)} tensors) into '
          f'{args.out}\nsha256 {digest}')


if __name__ == '__main__':
    main()
