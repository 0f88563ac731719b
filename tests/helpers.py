"""Shared test helpers: model configs and non-trivial random weights."""
import torch
from mmaction.registry import MODELS

from movinet_mm.models import ARCH_SPECS

STREAM_ARCHS = ('a0', 'a1', 'a2', 'a3', 'a4', 'a5')


def backbone_cfg(arch: str, stream: bool, conv_type: str = '2plus1d') -> dict:
    if not stream:
        return dict(type='MoViNet', arch=arch)
    return dict(
        type='MoViNet',
        arch=arch,
        causal=True,
        conv_type=conv_type,
        se_type='2plus3d',
        activation='hard_swish',
        gating_activation='hard_sigmoid',
        use_positional_encoding=arch in ('a3', 'a4', 'a5'))


def build_recognizer(arch: str = 'a0', stream: bool = True,
                     conv_type: str = '2plus1d', num_classes: int = 600,
                     **backbone_overrides):
    spec = ARCH_SPECS[arch]
    backbone = backbone_cfg(arch, stream, conv_type)
    backbone.update(backbone_overrides)
    return MODELS.build(
        dict(
            type='MoViNetRecognizer',
            backbone=backbone,
            cls_head=dict(
                type='MoViNetHead',
                num_classes=num_classes,
                in_channels=spec.project_channels,
                hidden_channels=spec.head_channels)))


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights, BN statistics and non-zero ReZero scales.

    With the default init every ReZero scale is 0, so every residual branch
    (and its state) would be invisible in the output: randomising them is
    what makes equality checks meaningful.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('rezero') or name.endswith('scale'):
                p.uniform_(0.1, 0.3, generator=g)
            elif p.dim() > 1:
                p.normal_(0, (2.0 / p[0].numel())**0.5, generator=g)
            elif 'bn' in name and name.endswith('weight'):
                p.uniform_(0.5, 1.5, generator=g)
            else:
                p.normal_(0, 0.1, generator=g)
        for name, b in model.named_buffers():
            if name.endswith('running_mean'):
                b.normal_(0, 0.1, generator=g)
            elif name.endswith('running_var'):
                b.uniform_(0.5, 1.5, generator=g)
    return model.eval()
