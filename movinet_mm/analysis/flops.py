"""Multiply-accumulates (MACs) and parameters of a config's recognizer.

Builds ``cfg.model`` in eval mode and runs the backbone and the head on one
clip ``[1, 3, T, H, W]``, counting with forward hooks the multiply-accumulates
of every convolution (3D, 2D and 1D, grouped and depthwise included) and
every linear layer: ``output elements x in_channels / groups x kernel size``
for a conv, ``output elements x in_features`` for a linear layer. Batch norm,
activations, poolings and additions are not counted (the official MoViNet
"GFLOPs" are such multiply-adds; e.g. A0 at 50x172x172: 2.63 G).
``tools/analysis/get_flops.py`` is the command line.
"""
import time
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _clip_shape(steps) -> Optional[Tuple[int, int, int]]:
    frames = size = None
    for step in steps:
        if step['type'] in ('SampleFrames', 'UniformSample'):
            frames = step['clip_len'] * step.get('num_clips', 1)
        elif step['type'] in ('CenterCrop', 'ThreeCrop', 'TenCrop'):
            size = step['crop_size']
        elif step['type'] == 'Resize' and not step.get('keep_ratio', True):
            size = tuple(step['scale'])  # (w, h), like crop sizes
    if frames and size:
        h, w = (size, size) if isinstance(size, int) else size[::-1]
        return frames, h, w
    return None


def _test_pipeline(cfg: Config) -> list:
    for loader in ('test_dataloader', 'val_dataloader'):
        pipeline = (cfg.get(loader) or {}).get('dataset', {}).get('pipeline')
        if pipeline:
            return pipeline
    return []


def test_clip_shape(cfg: Config) -> Tuple[int, int, int]:
    """(T, H, W) of the config's test pipeline (SampleFrames, CenterCrop)."""
    shape = _clip_shape(_test_pipeline(cfg))
    if shape is None:
        raise ValueError('cannot read the clip shape from the config (its '
                         'test pipeline needs SampleFrames and CenterCrop or '
                         'a fixed Resize; SampleAllFrames clips are as long '
                         'as each video); pass --shape T H W')
    return shape


def member_clip_shapes(cfg: Config, input_keys) -> list:
    """(T, H, W) of each ensemble member, from its KeyMapper branch."""
    shapes = {}
    for step in _test_pipeline(cfg):
        if step['type'] == 'KeyMapper':
            key = step.get('remapping', {}).get('imgs')
            shapes[key] = _clip_shape(step['transforms'])
    missing = [k for k in input_keys if not shapes.get(k)]
    if missing:
        raise ValueError(f'cannot read the clip shape of ensemble inputs '
                         f'{missing} from the test pipeline; pass --shape')
    return [shapes[k] for k in input_keys]


def build_model(cfg: Config) -> nn.Module:
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    return model.eval()


def _conv_macs(module: nn.Module, output: torch.Tensor) -> int:
    kernel = 1
    for k in module.kernel_size:
        kernel *= k
    return output.numel() * (module.in_channels // module.groups) * kernel


@torch.no_grad()
def count_macs(model: nn.Module, shape: Sequence[int]) -> Dict[str, int]:
    """MACs of the backbone (+ neck) + head on a ``[1, 3, *shape]`` clip.

    Returns ``{'conv': ..., 'linear': ..., 'total': ...}``.
    """
    counts = {'conv': 0, 'linear': 0}

    def hook(module, inputs, output):
        if isinstance(module, _CONVS):
            counts['conv'] += _conv_macs(module, output)
        elif isinstance(module, nn.Linear):
            counts['linear'] += output.numel() * module.in_features

    handles = [
        m.register_forward_hook(hook) for m in model.modules()
        if isinstance(m, _CONVS + (nn.Linear, ))
    ]
    try:
        in_channels = getattr(model.backbone, 'in_channels', 3)
        x = torch.zeros(1, in_channels, *shape)
        feats = model.backbone(x)
        if getattr(model, 'with_neck', False):
            feats = model.neck(feats)
            if isinstance(feats, tuple):  # necks return (feats, loss_aux)
                feats = feats[0]
        if getattr(model, 'with_cls_head', True):
            model.cls_head(feats)
    finally:
        for h in handles:
            h.remove()
    counts['total'] = counts['conv'] + counts['linear']
    return counts


def count_macs_extrapolated(model: nn.Module,
                            shape: Sequence[int]) -> Dict[str, int]:
    """``count_macs`` at T from counts at T=1 and T=2 (exact for MoViNets)."""
    t, h, w = shape
    one = count_macs(model, (1, h, w))
    two = count_macs(model, (2, h, w))
    return {k: one[k] + (t - 1) * (two[k] - one[k]) for k in one}


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(model: nn.Module) -> str:
    backbone = getattr(model, 'backbone', None)
    text = type(model).__name__
    if backbone is not None:
        arch = getattr(backbone, 'arch', None)
        name = type(backbone).__name__
        if type(arch).__name__ == 'ArchSpec':
            arch = next((k for k, v in backbone.arch_settings.items()
                         if v == arch), 'custom')
        if arch is not None and hasattr(backbone, 'causal'):
            kind = 'stream' if backbone.causal else 'base'
            name = f'{name}-{str(arch).upper()} {kind}, {backbone.conv_type}'
        text += f' ({name})'
    return text


def check_video_model(model: nn.Module) -> None:
    """Raise ValueError unless every member is a 3D recognizer: the count
    feeds it ``[1, C, T, H, W]`` clips."""
    from mmaction.models.recognizers import Recognizer2D
    members = getattr(model, 'members', None) or [model]
    for member in members:
        if isinstance(member, Recognizer2D) or \
                getattr(member, 'backbone', None) is None:
            kind = ('a 2D recognizer (Recognizer2D: frames, not clips)'
                    if isinstance(member, Recognizer2D) else
                    'not a recognizer with a backbone')
            raise ValueError(
                f'{type(member).__name__} is {kind}; this tool counts 3D '
                'video recognizers on [1, C, T, H, W] clips (for 2D models '
                "use MMAction2's tools/analysis_tools/get_flops.py)")


def get_flops(cfg: Config,
              shape: Optional[Sequence[int]] = None,
              extrapolate_time: bool = False) -> dict:
    """Build ``cfg.model`` and count; returns a dict for reports and tests."""
    model = build_model(cfg)
    check_video_model(model)
    counter = count_macs_extrapolated if extrapolate_time else count_macs
    start = time.perf_counter()
    members = getattr(model, 'members', None)
    if members is not None:  # an ensemble: every member on its own clip
        shapes = ([tuple(shape)] * len(members) if shape is not None else
                  member_clip_shapes(cfg, model.input_keys))
        per_member = [counter(m, s) for m, s in zip(members, shapes)]
        macs = {k: sum(c[k] for c in per_member) for k in per_member[0]}
        return dict(
            model=f'{type(model).__name__} of ' + ' + '.join(
                describe(m) for m in members),
            shape=shapes[0],
            members=[dict(model=describe(m), shape=s, macs=c['total'],
                          params=count_params(m))
                     for m, s, c in zip(members, shapes, per_member)],
            macs=macs['total'],
            conv_macs=macs['conv'],
            linear_macs=macs['linear'],
            params=count_params(model),
            seconds=time.perf_counter() - start)
    if shape is None:
        shape = test_clip_shape(cfg)
    macs = counter(model, tuple(shape))
    return dict(
        model=describe(model),
        shape=tuple(shape),
        macs=macs['total'],
        conv_macs=macs['conv'],
        linear_macs=macs['linear'],
        params=count_params(model),
        seconds=time.perf_counter() - start)


def format_table(config: str, result: dict, extrapolated: bool) -> str:
    t, h, w = result['shape']
    rows = [
        ('Config', config),
        ('Model', result['model']),
        ('Input shape', f'1 x 3 x {t} x {h} x {w} (N x C x T x H x W)'),
        ('GMACs', f"{result['macs'] / 1e9:.3f}"
         f"{' (extrapolated from T=1, 2)' if extrapolated else ''}"),
        ('  conv / linear', f"{result['conv_macs'] / 1e9:.3f} / "
         f"{result['linear_macs'] / 1e9:.4f}"),
        ('Params', f"{result['params'] / 1e6:.3f} M ({result['params']:,})"),
    ]
    for i, member in enumerate(result.get('members', [])):
        t, h, w = member['shape']
        rows.insert(3 + i, (f'  member {i}',
                            f"{member['model']}: {t} x {h} x {w}, "
                            f"{member['macs'] / 1e9:.3f} GMACs"))
    width = max(len(k) for k, _ in rows)
    line = '=' * 64
    body = '\n'.join(f'{k:<{width}}  {v}' for k, v in rows)
    note = ('MACs: multiply-accumulates of convs and linear layers (what the '
            'MoViNet\npapers call GFLOPs); BN, activations and pooling not '
            'counted.')
    return f'{line}\n{body}\n{line}\n{note}'
