"""Convolutions with TensorFlow's padding, in the three MoViNet conv types.

- ``'3d'``: one ``nn.Conv3d`` with the full (t, h, w) kernel (base models).
- ``'3d_2plus1d'``: a (1, h, w) ``Conv3d`` + BN + act, then a (t, 1, 1)
  ``Conv3d`` + BN + act: how the official stream models are trained.
- ``'2plus1d'``: the same factorisation with ``Conv2d`` ops, how they run:
  spatial kernels on every frame, temporal and pointwise kernels on the
  ``[N, C, T, H*W]`` view of the video (a view, no copy).
"""
import math
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from .activations import build_activation, inference_activation
from .fast_ops import (
    channels_last,
    fast_ops_enabled,
    frame_conv2d,
    frames_view,
    from_frames,
    pair,
    pointwise,
)
from .state import StateSpecs, StreamState, lookup
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


def same_padding(size: Tuple[int, int], kernel: Tuple[int, int],
                 stride: Tuple[int, int]):
    """(conv padding, explicit pad or None, output size) of a TF 'SAME' 2-D
    conv at a fixed input ``size``: symmetric padding goes into the conv."""
    (h, w), (kh, kw), (sh, sw) = size, kernel, stride
    top, bottom = tf_same_padding(h, kh, sh)
    left, right = tf_same_padding(w, kw, sw)
    out = (math.ceil(h / sh), math.ceil(w / sw))
    if top == bottom and left == right:
        return (top, left), None, out
    return (0, 0), (left, right, top, bottom), out


def folded_padding(pad: Tuple[int, int, int, int], stride: Tuple[int, int]
                   ) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """An explicit TF 'SAME' pad ``(left, right, top, bottom)`` before a
    strided window as symmetric padding ``(ph, pw)`` and the outputs to drop
    first ``(rows, cols)``: the window grid moves by whole strides, so the
    outputs after them are TF's. Why: runtimes that refuse a quantized pad
    (XNNPACK) get a conv and a slice instead."""
    left, right, top, bottom = pad

    def axis(before, after, s):
        drop = -(-(after - before) // s) if after > before else 0
        return before + drop * s, drop
    (ph, rows), (pw, cols) = axis(top, bottom, stride[0]), axis(left, right,
                                                                 stride[1])
    return (ph, pw), (rows, cols)


def pad_strided(x: Tensor, kernel: Tuple[int, int],
                stride: Tuple[int, int]) -> Tensor:
    """The size-dependent TF 'SAME' padding of a strided conv, applied to
    ``x`` (stride-1 padding is symmetric and left to the conv)."""
    (kh, kw), (sh, sw) = kernel, stride
    if sh == 1 and sw == 1:
        return x
    pads = [0, 0, 0, 0]
    if sw != 1:
        pads[0:2] = tf_same_padding(x.shape[-1], kw, sw)
    if sh != 1:
        pads[2:4] = tf_same_padding(x.shape[-2], kh, sh)
    return F.pad(x, pads)


def temporal_padding(kt: int, causal: bool) -> Tuple[int, int]:
    """Frames padded before and after a temporal kernel of ``kt``."""
    if causal:
        return kt - 1, 0
    return (kt - 1) // 2, kt - 1 - (kt - 1) // 2


def _is_pointwise(weight: Tensor, stride, padding, groups: int) -> bool:
    return (groups == 1 and weight.shape[-2:] == (1, 1)
            and pair(stride) == (1, 1) and pair(padding) == (0, 0))


def conv_frames(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride,
                padding, groups: int) -> Tensor:
    """A 2-D conv applied to every frame of an ``[N, C, T, H, W]`` video.

    Fast form (see :mod:`.fast_ops`): channels-last frames, and a pointwise
    kernel as one matrix product; the result is channels-last.
    """
    n, c, t, h, w = x.shape
    if fast_ops_enabled(x):
        if _is_pointwise(weight, stride, padding, groups):
            return pointwise(x, weight, bias)
        return from_frames(frame_conv2d(frames_view(x), weight, bias, stride,
                                        padding, groups), n)
    y = F.conv2d(x.transpose(1, 2).reshape(n * t, c, h, w), weight, bias,
                 stride, padding, groups=groups)
    return y.reshape(n, t, *y.shape[1:]).transpose(1, 2)


def conv_time(x: Tensor, weight: Tensor, bias: Optional[Tensor], padding,
              groups: int) -> Tensor:
    """A (kt, 1) 2-D conv over the ``[N, C, T, H*W]`` view of a video.

    Fast form: on the channels-last view (a pointwise kernel as one matrix
    product); the result is channels-last.
    """
    n, c, t, h, w = x.shape
    if fast_ops_enabled(x):
        if _is_pointwise(weight, 1, padding, groups):
            return pointwise(x, weight, bias)
        x = channels_last(x)
    y = F.conv2d(x.reshape(n, c, t, h * w), weight, bias, 1, padding,
                 groups=groups)
    return y.reshape(n, y.shape[1], y.shape[2], h, w)


class VideoConv3d(nn.Conv3d):
    """``nn.Conv3d`` (the same parameters); in the fast form a spatial,
    temporal or pointwise kernel runs as the equivalent :func:`conv_frames`
    or :func:`conv_time` on views of its weight, other kernels on
    channels-last input."""

    def forward(self, x: Tensor) -> Tensor:
        if not fast_ops_enabled(x) or self.padding_mode != 'zeros':
            return super().forward(x)
        weight, (kt, kh, kw) = self.weight, self.kernel_size
        st, sh, sw = self.stride
        pt, ph, pw = self.padding
        dilated = self.dilation != (1, 1, 1)
        if kt == 1 and st == 1 and pt == 0 and not dilated:
            return conv_frames(x, weight[:, :, 0], self.bias, (sh, sw),
                               (ph, pw), self.groups)
        if (kh, kw, sh, sw, ph, pw) == (1, 1, 1, 1, 0, 0) and not dilated:
            return conv_time(x, weight[..., 0], self.bias, (pt, 0),
                             self.groups)
        return super().forward(channels_last(x))


class FrameConv2d(nn.Conv2d):
    """A 2D conv applied to every frame of an ``[N, C, T, H, W]`` video."""

    def forward(self, x: Tensor) -> Tensor:
        return conv_frames(x, self.weight, self.bias, self.stride,
                           self.padding, self.groups)


class TimeConv2d(nn.Conv2d):
    """A (kt, 1) 2D conv over the ``[N, C, T, H*W]`` view of a video."""

    def forward(self, x: Tensor) -> Tensor:
        return conv_time(x, self.weight, self.bias, self.padding, self.groups)


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
            self.conv = VideoConv3d(
                in_channels, out_channels, (kt, kh, kw), (st, sh, sw),
                padding=(pad_t, pad_h, pad_w), groups=groups, bias=bias)
        self.bn = (build_norm_layer(norm_cfg, out_channels)[1]
                   if norm_cfg is not None else None)
        self.act = build_activation(act) if act is not None else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(pad_strided(x, self.kernel_size[1:], self.stride[1:]))
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x

    def output_size(self, size: Tuple[int, int]) -> Tuple[int, int]:
        return tuple(math.ceil(s / st) for s, st in zip(size, self.stride[1:]))

    # ------------------------------------------------------- inference form
    def folded_weights(self, scale: float = 1.0) -> Tuple[Tensor, Tensor]:
        """Conv weight and bias with the BN (and ``scale``) folded in, float64."""
        weight = self.conv.weight.detach().double()
        bias = (self.conv.bias.detach().double()
                if self.conv.bias is not None else
                torch.zeros(weight.shape[0], dtype=torch.float64))
        bn = self.bn
        if bn is not None:
            gamma = (bn.weight.detach().double() if bn.weight is not None else
                     torch.ones_like(bias))
            beta = (bn.bias.detach().double() if bn.bias is not None else
                    torch.zeros_like(bias))
            factor = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
            weight = weight * factor.view(-1, *([1] * (weight.dim() - 1)))
            bias = (bias - bn.running_mean.double()) * factor + beta
        return weight * scale, bias * scale

    def to_inference(self, size: Tuple[int, int], scale: float = 1.0
                     ) -> Tuple['InferenceConv', Tuple[int, int]]:
        """The per-frame 4-D form at input ``size`` (kernel (1, kh, kw)),
        BN and ``scale`` folded in, and its output size."""
        kt, kh, kw = self.kernel_size
        if kt != 1:
            raise ValueError(f'not a per-frame conv: kernel {self.kernel_size}')
        weight, bias = self.folded_weights(scale)
        weight = weight.reshape(weight.shape[0], weight.shape[1], kh, kw)
        padding, pad, out = same_padding(size, (kh, kw), self.stride[1:])
        conv = static_conv2d(weight, bias, self.stride[1:], padding,
                             self.conv.groups)
        return InferenceConv(conv, pad, inference_activation(self.act),
                             out), out


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

    def state_spec(self, batch_size: int,
                   frame_size: Tuple[int, int]) -> StateSpecs:
        """The buffer's state for input frames of ``frame_size``: it sits
        before the 3-D conv, or after the (strided) spatial conv in (2+1)D."""
        if self.stream_buffer is None:
            return {}
        if self.conv_temporal is not None:
            frame_size = self.conv.output_size(frame_size)
        return self.stream_buffer.state_spec(
            batch_size, self.conv.conv.out_channels, frame_size)

    def output_size(self, size: Tuple[int, int]) -> Tuple[int, int]:
        return self.conv.output_size(size)

    def to_inference(self, size: Tuple[int, int]
                     ) -> Tuple['InferenceStreamConv', Tuple[int, int]]:
        buffer_name = (self.stream_buffer.state_name
                       if self.stream_buffer is not None else None)
        if self.conv_temporal is not None:
            spatial, out = self.conv.to_inference(size)
            temporal = InferenceTemporalConv(self.conv_temporal, self.causal,
                                             buffer_name)
            return InferenceStreamConv(spatial, temporal), out
        if self.conv.kernel_size[0] > 1:
            conv = InferenceSpatioTemporalConv(self.conv, size, self.causal,
                                               buffer_name)
            return InferenceStreamConv(spatiotemporal=conv), conv.out_size
        spatial, out = self.conv.to_inference(size)
        return InferenceStreamConv(spatial), out


# ----------------------------------------------------------- inference forms
# Activations are ``[T, C, H, W]`` (the frames of one video as the batch);
# ``stream(x, state, new_state)`` runs one frame with explicit state,
# ``clip(x)`` a whole clip.
States = Dict[str, Tensor]


def static_conv2d(weight: Tensor, bias: Optional[Tensor], stride, padding,
                  groups: int) -> nn.Conv2d:
    out_c, in_per_group, kh, kw = weight.shape
    conv = nn.Conv2d(in_per_group * groups, out_c, (kh, kw), stride, padding,
                     groups=groups, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(weight.float())
        if bias is not None:
            conv.bias.copy_(bias.float())
    return conv.requires_grad_(False)


def stacked_buffer(buffer: Tensor, x: Tensor, frames: int,
                   layout: str) -> Tensor:
    """A stream buffer state in ``layout`` (see ``state.STATE_LAYOUTS``) as
    ``[1, C, frames * H, W]``, the frames of ``x`` ``[1, C, H, W]`` stacked
    on the height axis."""
    if layout == 'channels_last':  # [1, frames * H, W, C]
        return buffer.permute(0, 3, 1, 2)
    if layout == 'eager':  # [1, C, frames, H, W]
        _, c, h, w = x.shape
        return buffer.reshape(1, c, frames * h, w)
    return buffer


def buffer_state(stacked: Tensor, frames: int, layout: str) -> Tensor:
    """:func:`stacked_buffer`'s inverse: the next buffer state in ``layout``."""
    _, c, fh, w = stacked.shape
    if layout == 'channels_last':
        return stacked.permute(0, 2, 3, 1)
    if layout == 'eager':
        return stacked.reshape(1, c, frames, fh // frames, w)
    return stacked


class InferenceConv(nn.Module):
    """A 4-D conv with static 'SAME' padding, folded BN and an activation."""

    def __init__(self, conv: nn.Conv2d, pad: Optional[Tuple[int, ...]],
                 act: Optional[nn.Module],
                 out_size: Optional[Tuple[int, int]] = None):
        super().__init__()
        self.conv = conv
        self.pad = pad
        self.act = act
        self.out_size = out_size
        self.crop = None  # (rows, cols) dropped first, once the pad is folded

    def fold_pad(self) -> None:
        """The explicit pad as conv padding and a crop (``folded_padding``)."""
        if self.pad is None or self.out_size is None:
            return
        self.conv.padding, self.crop = folded_padding(self.pad,
                                                      self.conv.stride)
        self.pad = None

    def forward(self, x: Tensor) -> Tensor:
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = self.conv(x)
        if self.crop is not None:
            (rows, cols), (h, w) = self.crop, self.out_size
            x = x[:, :, rows:rows + h, cols:cols + w]
        return x if self.act is None else self.act(x)


class InferenceTemporalConv(nn.Module):
    """A causal or 'SAME' (kt, 1) depthwise conv over time, optionally buffered."""

    def __init__(self, block: ConvBlock, causal: bool,
                 buffer_name: Optional[str]):
        super().__init__()
        kt = block.kernel_size[0]
        weight, bias = block.folded_weights()
        weight = weight.reshape(weight.shape[0], weight.shape[1], kt, 1)
        self.conv = static_conv2d(weight, bias, 1, 0, block.conv.groups)
        self.act = inference_activation(block.act)
        self.kt = kt
        self.time_pad = temporal_padding(kt, causal)
        self.buffer_name = buffer_name
        self.state_layout = 'eager'  # set by the stream model that holds it

    def _act(self, x: Tensor) -> Tensor:
        return x if self.act is None else self.act(x)

    def stream(self, x: Tensor, state: States, new_state: States) -> Tensor:
        # The kt frames stacked on the height axis, [1, C, kt*H, W], and the
        # (kt, 1) kernel dilated by H: one 4-D conv gives the output frame
        # with no reshape of the activation, and XNNPACK delegates the whole
        # step as one graph (5-D ops would cut it at every layer).
        h = x.shape[2]
        buffer = stacked_buffer(state[self.buffer_name], x, self.kt - 1,
                                self.state_layout)
        full = torch.cat([buffer, x], dim=2)
        new_state[self.buffer_name] = buffer_state(full[:, :, h:],
                                                   self.kt - 1,
                                                   self.state_layout)
        return self._act(F.conv2d(full, self.conv.weight, self.conv.bias,
                                  dilation=(h, 1), groups=self.conv.groups))

    def clip(self, x: Tensor) -> Tensor:
        t, c, h, w = x.shape
        y = x.reshape(t, c, h * w).transpose(0, 1).unsqueeze(0)
        y = self.conv(F.pad(y, (0, 0, *self.time_pad)))
        return self._act(y[0].transpose(0, 1).reshape(t, c, h, w))


class InferenceSpatioTemporalConv(nn.Module):
    """A full (kt, kh, kw) conv as the sum of kt 2-D convs of shifted frames
    (no runtime has a fast 3-D depthwise conv)."""

    def __init__(self, block: ConvBlock, size: Tuple[int, int], causal: bool,
                 buffer_name: Optional[str]):
        super().__init__()
        kt, kh, kw = block.kernel_size
        weight, bias = block.folded_weights()
        padding, self.pad, self.out_size = same_padding(size, (kh, kw),
                                                        block.stride[1:])
        self.convs = nn.ModuleList(
            static_conv2d(weight[:, :, k], bias if k == kt - 1 else None,
                          block.stride[1:], padding, block.conv.groups)
            for k in range(kt))
        self.act = inference_activation(block.act)
        self.kt = kt
        self.time_pad = temporal_padding(kt, causal)
        self.buffer_name = buffer_name
        self.state_layout = 'eager'  # set by the stream model that holds it

    def _sum(self, frames: Tensor, t) -> Tensor:
        if self.pad is not None:
            frames = F.pad(frames, self.pad)
        y = self.convs[0](frames[0:t])
        for k in range(1, self.kt):
            y = y + self.convs[k](frames[k:k + t])
        return y if self.act is None else self.act(y)

    def stream(self, x: Tensor, state: States, new_state: States) -> Tensor:
        _, c, h, w = x.shape
        k = self.kt - 1
        buffer = stacked_buffer(state[self.buffer_name], x, k,
                                self.state_layout)
        full = torch.cat([buffer.reshape(1, c, k, h, w), x.unsqueeze(2)],
                         dim=2)
        new_state[self.buffer_name] = buffer_state(
            full[:, :, 1:].reshape(1, c, k * h, w), k, self.state_layout)
        return self._sum(full[0].transpose(0, 1), 1)

    def clip(self, x: Tensor) -> Tensor:
        before, after = self.time_pad
        frames = F.pad(x, (0, 0, 0, 0, 0, 0, before, after))
        return self._sum(frames, x.shape[0])


class InferenceStreamConv(nn.Module):
    """:class:`StreamConvBlock`'s inference form: a spatial conv and/or a
    temporal one, or one spatiotemporal conv."""

    def __init__(self, spatial: Optional[InferenceConv] = None,
                 temporal: Optional[InferenceTemporalConv] = None,
                 spatiotemporal: Optional[InferenceSpatioTemporalConv] = None):
        super().__init__()
        self.spatial = spatial
        self.temporal = temporal
        self.spatiotemporal = spatiotemporal

    def stream(self, x: Tensor, state: States, new_state: States) -> Tensor:
        if self.spatiotemporal is not None:
            return self.spatiotemporal.stream(x, state, new_state)
        x = self.spatial(x)
        if self.temporal is not None:
            x = self.temporal.stream(x, state, new_state)
        return x

    def clip(self, x: Tensor) -> Tensor:
        if self.spatiotemporal is not None:
            return self.spatiotemporal.clip(x)
        x = self.spatial(x)
        return x if self.temporal is None else self.temporal.clip(x)
