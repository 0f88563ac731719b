"""Squeeze-excitation, causal when the model is: the SE of every MoViNet layer."""
from typing import Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from .conv import ConvBlock
from .pooling import GlobalAvgPool, spatial_mean
from .positional_encoding import PositionalEncoding
from .state import StreamState

SE_TYPES = ('3d', '2d', '2plus3d', 'none')


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round to a multiple of ``divisor``, never more than 10% down (official rule)."""
    new_value = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return int(new_value)


def se_hidden_channels(channels: int, se_type: str, ratio: float = 0.25) -> int:
    """The SE bottleneck width; '2plus3d' squeezes twice the channels."""
    multiplier = 2 if se_type == '2plus3d' else 1
    return make_divisible(ratio * channels * multiplier, 8)


class StreamSqueezeExcitation(nn.Module):
    """Gates each channel of ``x`` by a function of pooled features.

    ``se_type``:
    - ``'3d'``: the spatiotemporal mean (causal: the cumulative mean up to
      each frame);
    - ``'2d'``: the per-frame spatial mean;
    - ``'2plus3d'``: both, concatenated on channels, the cumulative (or
      global) mean first (the stream models).
    An optional sine positional encoding is added to the pooled vector
    before the reduce conv (A3-A5 stream).
    """

    def __init__(self,
                 channels: int,
                 hidden_channels: int,
                 se_type: str = '3d',
                 causal: bool = False,
                 conv_type: str = '3d',
                 act: str = 'swish',
                 gating_act: str = 'sigmoid',
                 use_positional_encoding: bool = False,
                 state_prefix: str = 'state'):
        super().__init__()
        if se_type not in SE_TYPES or se_type == 'none':
            raise ValueError(f'unknown se_type {se_type!r}; expected one of '
                             f"{SE_TYPES[:-1]} ('none' means no SE layer)")
        self.se_type = se_type
        self.causal = causal
        self.pool = (GlobalAvgPool(causal, state_prefix)
                     if se_type in ('3d', '2plus3d') else None)
        self.pos_encoding = (PositionalEncoding(state_prefix)
                             if use_positional_encoding else None)
        squeezed = channels * (2 if se_type == '2plus3d' else 1)
        self.se_reduce = ConvBlock(squeezed, hidden_channels, 1,
                                   conv_type=conv_type, bias=True,
                                   norm_cfg=None, act=act)
        self.se_expand = ConvBlock(hidden_channels, channels, 1,
                                   conv_type=conv_type, bias=True,
                                   norm_cfg=None, act=gating_act)

    def forward(self, x: Tensor, state: Optional[Mapping[str, Tensor]] = None
                ) -> Tuple[Tensor, StreamState]:
        new_state: StreamState = {}
        if self.se_type == '2d':
            pooled = spatial_mean(x)
        elif self.se_type == '3d':
            pooled, new_state = self.pool(x, state)
        else:
            frames = spatial_mean(x)
            pooled, new_state = self.pool(frames, state)
            if not self.causal:
                pooled = pooled.expand_as(frames)
            pooled = torch.cat([pooled, frames], dim=1)
        if self.pos_encoding is not None:
            pooled, pos_state = self.pos_encoding(pooled, state)
            new_state.update(pos_state)
        gate = self.se_expand(self.se_reduce(pooled))
        return x * gate, new_state
