"""Convolutions with TensorFlow's padding, in the three MoViNet conv types.

- ``'3d'``: one ``nn.Conv3d`` with the full (t, h, w) kernel (base models).
- ``'3d_2plus1d'``: a (1, h, w) ``Conv3d`` + BN + act, then a (t, 1, 1)
  ``Conv3d`` + BN + act: how the official stream models are trained.
- ``'2plus1d'``: the same factorisation with ``Conv2d`` ops, how they run:
  spatial kernels on every frame, temporal and pointwise kernels on the
  ``[N, C, T, H*W]`` view of the video (a view, no copy).
"""
from typing import Mapping, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from .activations import build_activation
from .state import StreamState, lookup
from .stream_buffer import StreamBuffer

CONV_TYPES = ('3d', '2plus1d', '3d_2plus1d')
DEFAULT_NORM_CFG = dict(type='BN3d', eps=1e-3, momentum=0.01)


def as_triple(value: Union[int, Sequence[int]], name: str) -> Tuple[int, int, int]:
    if isinstance(value, int):
        return (value, value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f'{name} must be an int or 3 ints (t, h, w), got {value}')
    return value


def tf_same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TF 'SAME' padding (before, after) of one dimension.

    At stride 2 on an even size it is asymmetric, e.g. (0, 1) for k=3: the
    windows start at 0, 2, ... PyTorch's symmetric ``k // 2`` would shift the
    sampling grid by one pixel.
    """
    total = max(kernel - ((size - 1) % stride + 1), 0)
    return total // 2, total - total // 2


class FrameConv2d(nn.Conv2d):
    """A 2D conv applied to every frame of an ``[N, C, T, H, W]`` video."""

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        y = super().forward(x.transpose(1, 2).reshape(n * t, c, h, w))
        return y.reshape(n, t, *y.shape[1:]).transpose(1, 2)


class TimeConv2d(nn.Conv2d):
    """A (kt, 1) 2D conv over the ``[N, C, T, H*W]`` view of a video."""

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        y = super().forward(x.reshape(n, c, t, h * w))
        return y.reshape(n, y.shape[1], y.shape[2], h, w)


class ConvBlock(nn.Module):
    """Conv, then optional BN and activation.

    Spatial padding is TF 'SAME'. Temporal padding is 'SAME' (symmetric) when
    ``causal_input`` is False; when True the conv pads nothing in time and
    expects its input to be prefixed with ``kt - 1`` earlier frames (a
    :class:`StreamBuffer`).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, Sequence[int]] = 1,
                 stride: Union[int, Sequence[int]] = 1,
                 groups: int = 1,
                 conv_type: str = '3d',
                 causal_input: bool = False,
                 bias: bool = False,
                 norm_cfg: Optional[dict] = DEFAULT_NORM_CFG,
                 act: Optional[str] = None):
        super().__init__()
        if conv_type not in CONV_TYPES:
            raise ValueError(f'unknown conv_type {conv_type!r}; expected one '
                             f'of {CONV_TYPES}')
        kt, kh, kw = self.kernel_size = as_triple(kernel_size, 'kernel_size')
        st, sh, sw = self.stride = as_triple(stride, 'stride')
        if st != 1:
            raise ValueError('MoViNets never stride in time; got stride '
                             f'{self.stride}')
        pad_t = 0 if causal_input else (kt - 1) // 2
        # Stride-1 'SAME' padding is symmetric for odd kernels and goes into
        # the conv; stride-2 padding depends on the input size (see forward).
        pad_h = (kh - 1) // 2 if sh == 1 else 0
        pad_w = (kw - 1) // 2 if sw == 1 else 0
        if conv_type == '2plus1d':
            # A strided 1x1 is spatial too: the spatial half of a strided
            # temporal-only kernel such as (5, 1, 1).
            if kt == 1 and ((kh, kw) != (1, 1) or (sh, sw) != (1, 1)):
                self.conv = FrameConv2d(
                    in_channels, out_channels, (kh, kw), (sh, sw),
                    padding=(pad_h, pad_w), groups=groups, bias=bias)
            elif (kh, kw) == (1, 1) and (sh, sw) == (1, 1):
                self.conv = TimeConv2d(
                    in_channels, out_channels, (kt, 1), 1,
                    padding=(pad_t, 0), groups=groups, bias=bias)
            else:
                raise ValueError("a '2plus1d' conv is either spatial or "
                                 f'temporal, got kernel {self.kernel_size}')
        else:
            self.conv = nn.Conv3d(
                in_channels, out_channels, (kt, kh, kw), (st, sh, sw),
                padding=(pad_t, pad_h, pad_w), groups=groups, bias=bias)
        self.bn = (build_norm_layer(norm_cfg, out_channels)[1]
                   if norm_cfg is not None else None)
        self.act = build_activation(act) if act is not None else None

    def _pad_strided(self, x: Tensor) -> Tensor:
        _, kh, kw = self.kernel_size
        _, sh, sw = self.stride
        if sh == 1 and sw == 1:
            return x
        pads = [0, 0, 0, 0]
        if sw != 1:
            pads[0:2] = tf_same_padding(x.shape[-1], kw, sw)
        if sh != 1:
            pads[2:4] = tf_same_padding(x.shape[-2], kh, sh)
        return F.pad(x, pads)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(self._pad_strided(x))
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x


class StreamConvBlock(nn.Module):
    """A (depthwise) spatiotemporal conv block with a causal stream buffer.

    Mirrors the official ``StreamConvBlock``: with a 2+1D ``conv_type`` and a
    temporal kernel > 1 it is a spatial :class:`ConvBlock` (``conv``) followed
    by a temporal one (``conv_temporal``), each with its own BN and
    activation; otherwise a single ``conv``. In causal mode the buffer of
    ``kt - 1`` frames sits right before the temporal conv: before the 3D conv
    (at the pre-stride frame size), or between the spatial and temporal convs
    (at the post-stride frame size).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, Sequence[int]],
                 stride: Union[int, Sequence[int]] = 1,
                 depthwise: bool = False,
                 conv_type: str = '3d',
                 causal: bool = False,
                 norm_cfg: Optional[dict] = DEFAULT_NORM_CFG,
                 act: Optional[str] = None,
                 state_prefix: str = 'state'):
        super().__init__()
        kt, kh, kw = as_triple(kernel_size, 'kernel_size')
        stride = as_triple(stride, 'stride')
        groups = in_channels if depthwise else 1
        if depthwise and in_channels != out_channels:
            raise ValueError('a depthwise conv keeps its channels, got '
                             f'{in_channels} -> {out_channels}')
        self.causal = causal
        uses_buffer = causal and kt > 1
        if conv_type != '3d' and kt > 1:
            self.conv = ConvBlock(in_channels, out_channels, (1, kh, kw),
                                  stride, groups, conv_type,
                                  norm_cfg=norm_cfg, act=act)
            self.conv_temporal = ConvBlock(
                out_channels, out_channels, (kt, 1, 1), 1, groups, conv_type,
                causal_input=uses_buffer, norm_cfg=norm_cfg, act=act)
        else:
            self.conv = ConvBlock(in_channels, out_channels, (kt, kh, kw),
                                  stride, groups, conv_type,
                                  causal_input=uses_buffer,
                                  norm_cfg=norm_cfg, act=act)
            self.conv_temporal = None
        self.stream_buffer = (StreamBuffer(kt - 1,
                                           f'{state_prefix}_stream_buffer')
                              if uses_buffer else None)

    def _buffered(self, x: Tensor, state: Optional[Mapping[str, Tensor]],
                  new_state: StreamState) -> Tensor:
        if self.stream_buffer is None:
            return x
        name = self.stream_buffer.state_name
        x, new_state[name] = self.stream_buffer(x, lookup(state, name))
        return x

    def forward(self, x: Tensor, state: Optional[Mapping[str, Tensor]] = None
                ) -> Tuple[Tensor, StreamState]:
        new_state: StreamState = {}
        if self.conv_temporal is None:
            x = self.conv(self._buffered(x, state, new_state))
        else:
            x = self.conv(x)
            x = self.conv_temporal(self._buffered(x, state, new_state))
        return x, new_state
