"""Exact multiply-accumulates of a MoViNet from its table, without building it.

Counts what ``tools/analysis/get_flops.py`` counts on the built recognizer
(backbone + head on one ``[1, 3, T, H, W]`` clip): every conv as ``output
elements x in_channels / groups x kernel volume`` and every linear layer as
``output elements x in_features``; BN, activations, poolings and additions
are free. Per layer of ``MovinetBottleneck``:

- expansion 1x1x1: ``T h w e c_in``;
- depthwise kxkxk at stride s: ``T h' w' e kt kh kw`` (``'3d'``) or, when
  factorised (other conv types, kt > 1), ``T h' w' e (kh kw + kt)``; causal
  convs read ``kt - 1`` buffered frames and still give T frames;
- squeeze-excitation on pooled vectors: ``L (q hid + hid e)``, with ``q = e``
  (``2e`` for '2plus3d'), ``hid`` its bottleneck width and ``L`` = 1 pooled
  step for a non-causal '3d' SE and T otherwise;
- projection ``T h' w' c_out e``; the skip 1x1 ``T h' w' c_out c_in`` when
  the layer strides or changes width;

with ``h' = ceil(h / s)`` (TF 'SAME'). No layer strides in time, so every
count is ``a + b T``.
"""
import itertools
import math
from typing import Dict, Optional, Sequence, Tuple, Union

from movinet_mm.models.backbones.movinet_arch import ArchSpec
from movinet_mm.models.layers.squeeze_excitation import se_hidden_channels

from .space import SearchSpace, round_width

Size = Union[int, Tuple[int, int]]


def _size(resolution: Size) -> Tuple[int, int]:
    if isinstance(resolution, int):
        return resolution, resolution
    h, w = resolution
    return int(h), int(w)


def default_se_type(causal: bool) -> str:
    return '2plus3d' if causal else '3d'


def layer_macs(frames: int, h: int, w: int, c_in: int, c_out: int,
               expand: int, kernel: Sequence[int], stride: Sequence[int],
               causal: bool, conv_type: str, se_type: str) -> int:
    """MACs of one bottleneck layer on an input of ``frames x h x w``."""
    kt, kh, kw = kernel
    ho, wo = math.ceil(h / stride[1]), math.ceil(w / stride[2])
    macs = frames * h * w * expand * c_in
    if conv_type != '3d' and kt > 1:
        macs += frames * ho * wo * expand * (kh * kw + kt)
    else:
        macs += frames * ho * wo * expand * kt * kh * kw
    if se_type != 'none':
        hidden = se_hidden_channels(expand, se_type)
        squeezed = expand * (2 if se_type == '2plus3d' else 1)
        steps = 1 if (se_type == '3d' and not causal) else frames
        macs += steps * (squeezed * hidden + hidden * expand)
    macs += frames * ho * wo * c_out * expand
    if stride[1] > 1 or stride[2] > 1 or c_in != c_out:
        macs += frames * ho * wo * c_out * c_in
    return macs


def macs(arch: ArchSpec,
         frames: int,
         resolution: Size,
         causal: bool = False,
         conv_type: str = '3d',
         se_type: Optional[str] = None,
         num_classes: int = 600,
         head_hidden: Optional[int] = None) -> Dict[str, int]:
    """MACs of the recognizer (backbone + head) on one clip.

    Returns ``{'conv', 'linear', 'total'}`` as ``count_macs`` of
    ``tools/analysis/get_flops.py`` does. ``se_type`` defaults to '3d' for
    base and '2plus3d' for causal models; ``head_hidden`` to
    ``arch.head_channels``.
    """
    if frames < 1:
        raise ValueError(f'frames must be >= 1, got {frames}')
    se_type = se_type or default_se_type(causal)
    h, w = _size(resolution)
    h, w = math.ceil(h / 2), math.ceil(w / 2)  # stem stride 2
    conv = frames * h * w * arch.stem_channels * 3 * 9
    channels = arch.stem_channels
    for block in arch.blocks:
        for layer in block.layers:
            conv += layer_macs(frames, h, w, channels, block.out_channels,
                               layer.expand_channels, layer.kernel_size,
                               layer.stride, causal, conv_type, se_type)
            h = math.ceil(h / layer.stride[1])
            w = math.ceil(w / layer.stride[2])
            channels = block.out_channels
    conv += frames * h * w * arch.project_channels * channels
    hidden = head_hidden or arch.head_channels
    linear = arch.project_channels * hidden + hidden * num_classes
    return dict(conv=conv, linear=linear, total=conv + linear)


def total_macs(arch: ArchSpec, frames: int, resolution: Size,
               **kwargs) -> int:
    return macs(arch, frames, resolution, **kwargs)['total']


def cost_range(space: SearchSpace, **kwargs) -> Tuple[int, int]:
    """The fewest and the most MACs of any network of ``space`` at its
    inputs (``kwargs``: ``macs``' model settings).

    Exact: a layer's kernel and expansion change only its own count, more
    layers, frames or pixels cost more, and a wider stem / block /
    projection costs more wherever it is used, except that a block whose
    first layer does not stride (the 4th) drops its skip conv when it keeps
    its predecessor's width. So every choice takes its extreme, per layer
    the cheapest / dearest (kernel, expansion), but the widths of such a
    block and its predecessor, whose multiplier pairs are enumerated.
    """
    decisions = {d.name: d.options for d in space.decisions()}
    coupled = sorted({b for i, s in enumerate(space.block_strides)
                      if i > 0 and tuple(s[1:]) == (1, 1)
                      for b in (i - 1, i)})
    results = []
    for pick in (min, max):
        best = None
        for mults in itertools.product(space.width_multipliers,
                                       repeat=len(coupled)):
            values = {k: pick(v) for k, v in decisions.items()}
            for b, m in zip(coupled, mults):
                values[f'block{b}_width'] = m
            arch = space.architecture(values).arch
            values.update(_extreme_layers(arch, space, values, pick, kwargs))
            arch = space.architecture(values)
            cost = total_macs(arch.arch, arch.frames, arch.resolution,
                              **kwargs)
            best = cost if best is None else pick(best, cost)
        results.append(best)
    return results[0], results[1]


def _extreme_layers(arch: ArchSpec, space: SearchSpace, values: dict, pick,
                    kwargs) -> dict:
    causal = kwargs.get('causal', False)
    conv_type = kwargs.get('conv_type', '3d')
    se_type = kwargs.get('se_type') or default_se_type(causal)
    frames = values['frames']
    h = w = math.ceil(values['resolution'] / 2)
    channels = arch.stem_channels
    out = {}
    for i, block in enumerate(arch.blocks):
        for j, layer in enumerate(block.layers):
            options = []
            for kernel, ratio in itertools.product(space.kernels,
                                                   space.expansion_ratios):
                expand = round_width(ratio * block.out_channels)
                options.append((layer_macs(frames, h, w, channels,
                                           block.out_channels, expand,
                                           kernel, layer.stride, causal,
                                           conv_type, se_type),
                                kernel, ratio))
            _, kernel, ratio = pick(options, key=lambda o: o[0])
            out[f'block{i}_layer{j}_kernel'] = kernel
            out[f'block{i}_layer{j}_expansion'] = ratio
            h = math.ceil(h / layer.stride[1])
            w = math.ceil(w / layer.stride[2])
            channels = block.out_channels
    return out


__all__ = ['macs', 'total_macs', 'layer_macs', 'cost_range',
           'default_se_type']
