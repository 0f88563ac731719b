"""Squeeze-excitation, causal when the model is: the SE of every MoViNet layer."""
from typing import Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from .conv import ConvBlock
from .pooling import GlobalAvgPool, spatial_mean
from .positional_encoding import PositionalEncoding
from .state import StateSpecs, StreamState

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
        pooled, new_state = squeeze(x, self.se_type, self.causal, self.pool,
                                    state)
        if self.pos_encoding is not None:
            pooled, pos_state = self.pos_encoding(pooled, state)
            new_state.update(pos_state)
        gate = self.se_expand(self.se_reduce(pooled))
        return x * gate, new_state

    @property
    def channels(self) -> int:
        return self.se_expand.conv.out_channels

    def state_spec(self, batch_size: int) -> StateSpecs:
        spec: StateSpecs = {}
        if self.pool is not None:
            spec.update(self.pool.state_spec(batch_size, self.channels))
        if self.pos_encoding is not None:
            spec.update(self.pos_encoding.state_spec(batch_size))
        return spec

    def to_inference(self) -> 'InferenceSqueezeExcitation':
        return InferenceSqueezeExcitation(self)


def squeeze(x: Tensor, se_type: str, causal: bool,
            pool: Optional[GlobalAvgPool],
            state: Optional[Mapping[str, Tensor]] = None
            ) -> Tuple[Tensor, StreamState]:
    """The pooled features an SE of ``se_type`` gates by, ``[N, C', T', 1, 1]``,
    and the pool's next state."""
    if se_type == '2d':
        return spatial_mean(x), {}
    if se_type == '3d':
        return pool(x, state)
    frames = spatial_mean(x)
    pooled, new_state = pool(frames, state)
    if not causal:
        pooled = pooled.expand_as(frames)
    return torch.cat([pooled, frames], dim=1), new_state


class InferenceSqueezeExcitation(nn.Module):
    """The SE on ``[T, C, H, W]`` frames, causal when the model is."""

    def __init__(self, se: StreamSqueezeExcitation):
        super().__init__()
        self.se_type = se.se_type
        self.causal = se.causal
        self.pool = se.pool
        self.reduce, _ = se.se_reduce.to_inference((1, 1))
        self.expand, _ = se.se_expand.to_inference((1, 1))
        self.pos_encoding = (se.pos_encoding.to_inference(
            se.se_reduce.conv.in_channels)
            if se.pos_encoding is not None else None)

    def _gate(self, x: Tensor, pooled: Tensor) -> Tensor:
        return x * self.expand(self.reduce(pooled))

    def stream(self, x: Tensor, state: Mapping[str, Tensor],
               new_state: StreamState) -> Tensor:
        frame = x.mean(dim=(2, 3), keepdim=True)  # [1, C, 1, 1]
        pooled = frame
        if self.pool is not None:
            pooled = self.pool.stream_frame(frame, state, new_state)
            if self.se_type == '2plus3d':
                pooled = torch.cat([pooled, frame], dim=1)
        if self.pos_encoding is not None:
            pooled = self.pos_encoding.stream(pooled, state, new_state)
        return self._gate(x, pooled)

    def clip(self, x: Tensor) -> Tensor:
        t = x.shape[0]
        frames = x.mean(dim=(2, 3), keepdim=True)  # [T, C, 1, 1]
        pooled = frames
        if self.pool is not None:
            if self.causal:
                steps = torch.arange(1, t + 1, dtype=torch.int64,
                                     device=x.device)
                pooled = torch.cumsum(frames, dim=0) / steps.to(
                    torch.float32).view(-1, 1, 1, 1)
            else:
                pooled = frames.mean(dim=0, keepdim=True)
            if self.se_type == '2plus3d':
                pooled = torch.cat([pooled.expand_as(frames), frames], dim=1)
        if self.pos_encoding is not None:
            pooled = self.pos_encoding.clip(pooled)
        return self._gate(x, pooled)
