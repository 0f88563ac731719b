"""MoViNet architectures as data: one table of layer specs per variant.

The tables follow ``BLOCK_SPECS`` of the official TensorFlow ``movinet.py``
(tensorflow/models, official/projects/movinet). Each block lists its output
channels and its layers as (expand channels, kernel (t, h, w), stride); the
input channels of a layer are the output channels of the layer before it.

Next to the tables: the official base and stream settings of the backbone
(:func:`backbone_settings`), the smallest frame size (``MIN_FRAME_SIZE``) and
the ``MoViNet(arch=dict(...))`` form of a table (:func:`arch_to_dict`,
:func:`arch_from_dict`).
"""
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

from ...utils.checkpoint import register_archs

Triple = Tuple[int, int, int]

# Kernel and stride shorthands, as in the official code. There is no temporal
# striding anywhere; every spatial stride of 2 is on a block's first layer.
K133: Triple = (1, 3, 3)
K155: Triple = (1, 5, 5)
K333: Triple = (3, 3, 3)
K533: Triple = (5, 3, 3)
S1: Triple = (1, 1, 1)
S2: Triple = (1, 2, 2)

STEM_KERNEL: Triple = (1, 3, 3)
STEM_STRIDE: Triple = (1, 2, 2)

MIN_FRAME_SIZE = 32  # five stride-2 layers: 32 px end as one cell
POSITIONAL_ENCODING_ARCHS = ('a3', 'a4', 'a5')  # in their stream models


@dataclass(frozen=True)
class LayerSpec:
    """One MoViNet bottleneck layer (expansion -> depthwise -> SE -> projection)."""
    expand_channels: int
    kernel_size: Triple
    stride: Triple = S1


@dataclass(frozen=True)
class BlockSpec:
    """A stage: layers that share their output channels."""
    out_channels: int
    layers: Tuple[LayerSpec, ...]


@dataclass(frozen=True)
class ArchSpec:
    """A whole MoViNet variant.

    ``resolution`` is the square training/evaluation frame size of the
    official Kinetics-600 model; it documents the variant and is not enforced.
    """
    stem_channels: int
    blocks: Tuple[BlockSpec, ...]
    project_channels: int
    head_channels: int
    resolution: int

    @property
    def num_layers(self) -> int:
        return sum(len(block.layers) for block in self.blocks)


def L(expand: int, kernel: Triple, stride: Triple = S1) -> LayerSpec:  # noqa: E743
    return LayerSpec(expand, kernel, stride)


def B(out_channels: int, *layers: LayerSpec) -> BlockSpec:
    return BlockSpec(out_channels, tuple(layers))


ARCH_SPECS: Dict[str, ArchSpec] = {
    'a0': ArchSpec(
        stem_channels=8,
        blocks=(
            B(8, L(24, K155, S2)),
            B(32, L(80, K333, S2), L(80, K333), L(80, K333)),
            B(56, L(184, K533, S2), L(112, K333), L(184, K333)),
            B(56, L(184, K533), L(184, K333), L(184, K333), L(184, K333)),
            B(104, L(384, K533, S2), L(280, K155), L(280, K155),
              L(344, K155)),
        ),
        project_channels=480,
        head_channels=2048,
        resolution=172),
    'a1': ArchSpec(
        stem_channels=16,
        blocks=(
            B(16, L(40, K155, S2), L(40, K333)),
            B(40, L(96, K333, S2), L(120, K333), L(96, K333), L(96, K333)),
            B(64, L(216, K533, S2), L(128, K333), L(216, K333), L(168, K333),
              L(216, K333)),
            B(64, L(216, K533), L(216, K333), L(216, K333), L(128, K333),
              L(128, K155), L(216, K333)),
            B(136, L(456, K533, S2), L(360, K155), L(360, K155), L(360, K155),
              L(456, K155), L(456, K333), L(544, K133)),
        ),
        project_channels=600,
        head_channels=2048,
        resolution=172),
    'a2': ArchSpec(
        stem_channels=16,
        blocks=(
            B(16, L(40, K155, S2), L(40, K333), L(64, K333)),
            B(40, L(96, K333, S2), L(120, K333), L(96, K333), L(96, K333),
              L(120, K333)),
            B(72, L(240, K533, S2), L(160, K333), L(240, K333), L(192, K333),
              L(240, K333)),
            B(72, L(240, K533), L(240, K333), L(240, K333), L(240, K333),
              L(144, K155), L(240, K333)),
            B(144, L(480, K533, S2), L(384, K155), L(384, K155), L(480, K155),
              L(480, K155), L(480, K333), L(576, K133)),
        ),
        project_channels=640,
        head_channels=2048,
        resolution=224),
    'a3': ArchSpec(
        stem_channels=16,
        blocks=(
            B(16, L(40, K155, S2), L(40, K333), L(64, K333), L(40, K333)),
            B(48, L(112, K333, S2), L(144, K333), L(112, K333), L(112, K155),
              L(144, K333), L(144, K333)),
            B(80, L(240, K533, S2), L(152, K333), L(240, K333), L(192, K333),
              L(240, K333)),
            B(88, L(264, K533), L(264, K333), L(264, K333), L(264, K333),
              L(160, K155), L(264, K333), L(264, K333), L(264, K333)),
            B(168, L(560, K533, S2), L(448, K155), L(448, K155), L(560, K155),
              L(560, K155), L(560, K333), L(448, K155), L(448, K155),
              L(560, K333), L(672, K133)),
        ),
        project_channels=744,
        head_channels=2048,
        resolution=256),
    'a4': ArchSpec(
        stem_channels=24,
        blocks=(
            B(24, L(64, K155, S2), L(64, K333), L(96, K333), L(64, K333),
              L(96, K333), L(64, K333)),
            B(56, L(168, K333, S2), L(168, K333), L(136, K333), L(136, K333),
              L(168, K333), L(168, K333), L(168, K333), L(136, K155),
              L(136, K333)),
            B(96, L(320, K533, S2), L(160, K333), L(320, K333), L(192, K333),
              L(320, K333), L(160, K333), L(320, K333), L(256, K333),
              L(320, K333)),
            B(96, L(320, K533), L(320, K333), L(320, K333), L(320, K333),
              L(192, K155), L(320, K333), L(320, K333), L(192, K333),
              L(320, K333), L(320, K333)),
            B(192, L(640, K533, S2), L(512, K155), L(512, K155), L(640, K155),
              L(640, K155), L(640, K333), L(512, K155), L(512, K155),
              L(640, K155), L(768, K155), L(640, K155), L(640, K333),
              L(768, K333)),
        ),
        project_channels=856,
        head_channels=2048,
        resolution=290),
    'a5': ArchSpec(
        stem_channels=24,
        blocks=(
            B(24, L(64, K155, S2), L(64, K155), L(96, K333), L(64, K333),
              L(96, K333), L(64, K333)),
            B(64, L(192, K533, S2), L(152, K333), L(152, K333), L(152, K333),
              L(192, K333), L(192, K333), L(192, K333), L(152, K333),
              L(152, K333), L(192, K333), L(192, K333)),
            B(112, L(376, K533, S2), L(224, K333), L(376, K333), L(376, K333),
              L(296, K333), L(376, K333), L(224, K333), L(376, K333),
              L(376, K333), L(296, K333), L(376, K333), L(376, K333),
              L(376, K333)),
            B(120, L(376, K533), L(376, K333), L(376, K333), L(376, K333),
              L(224, K155), L(376, K333), L(376, K333), L(224, K333),
              L(376, K333), L(376, K333), L(376, K333)),
            B(224, L(744, K533, S2), L(744, K333), L(600, K155), L(600, K155),
              L(744, K155), L(744, K155), L(744, K333), L(896, K155),
              L(600, K155), L(600, K155), L(896, K155), L(744, K155),
              L(744, K333), L(896, K155), L(600, K155), L(600, K155),
              L(744, K155), L(744, K333)),
        ),
        project_channels=992,
        head_channels=2048,
        resolution=320),
    't0': ArchSpec(
        stem_channels=8,
        blocks=(
            B(8, L(16, K155, S2)),
            B(32, L(72, K333, S2), L(72, K155)),
            B(56, L(112, K533, S2), L(112, K155), L(112, K333)),
            B(56, L(184, K533), L(184, K155), L(184, K333), L(184, K333)),
            B(104, L(344, K533, S2), L(344, K155), L(344, K155),
              L(344, K333)),
        ),
        project_channels=240,
        head_channels=1024,
        resolution=160),
}
register_archs(ARCH_SPECS)  # checkpoint descriptions name them


def backbone_settings(arch: Optional[str], stream: bool) -> dict:
    """The official ``MoViNet`` settings of a base or stream model.

    Stream: causal, '3d_2plus1d' convs (the training form; '2plus1d' holds
    the same weights), SE '2plus3d', hard swish / hard sigmoid. Base:
    non-causal, 3D convs and SE, swish / sigmoid. With an ``arch`` also
    ``use_positional_encoding`` (stream A3-A5).
    """
    if stream:
        settings = dict(causal=True, conv_type='3d_2plus1d',
                        se_type='2plus3d', activation='hard_swish',
                        gating_activation='hard_sigmoid')
    else:
        settings = dict(causal=False, conv_type='3d', se_type='3d',
                        activation='swish', gating_activation='sigmoid')
    if arch is not None:
        settings['use_positional_encoding'] = \
            stream and arch in POSITIONAL_ENCODING_ARCHS
    return settings


def arch_to_dict(arch: ArchSpec) -> dict:
    """The ``MoViNet(arch=dict(...))`` form of an ``ArchSpec``."""
    return dict(
        stem_channels=arch.stem_channels,
        blocks=[dict(out_channels=b.out_channels,
                     layers=[[layer.expand_channels, list(layer.kernel_size),
                              list(layer.stride)] for layer in b.layers])
                for b in arch.blocks],
        project_channels=arch.project_channels,
        head_channels=arch.head_channels,
        resolution=arch.resolution)


def arch_from_dict(cfg: Mapping) -> ArchSpec:
    """The ``ArchSpec`` of a ``MoViNet(arch=dict(...))`` table."""
    try:
        blocks = tuple(
            BlockSpec(int(b['out_channels']),
                      tuple(LayerSpec(int(e), tuple(int(v) for v in k),
                                      tuple(int(v) for v in s))
                            for e, k, s in b['layers']))
            for b in cfg['blocks'])
        return ArchSpec(int(cfg['stem_channels']), blocks,
                        int(cfg['project_channels']),
                        int(cfg['head_channels']),
                        int(cfg.get('resolution', 0)))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f'not a MoViNet architecture table ({error!r}); '
                         'expected stem_channels, blocks=[dict(out_channels, '
                         'layers=[[expand, [kt, kh, kw], [1, sh, sw]], ...])]'
                         ', project_channels, head_channels') from None

