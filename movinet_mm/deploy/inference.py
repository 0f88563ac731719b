"""The inference form of a trained MoViNet: static, 4-D, BN folded, explicit state.

``build_inference_model(recognizer, 'stream' | 'clip', frame_size)`` turns a
trained :class:`~movinet_mm.models.MoViNetRecognizer` (eval-mode semantics)
into a plain ``nn.Module`` made for export and fast CPU inference:

- every BN is folded into the conv before it, and each layer's ReZero scale
  into its projection conv;
- every conv is a 4-D ``nn.Conv2d``: activations are ``[T, C, H, W]`` (the
  frames of one video as the batch), temporal convs are ``(kt, 1)`` depthwise
  convs on the ``[1, C, T, H*W]`` view, and a full 3-D depthwise kernel
  (base models) is the sum of ``kt`` depthwise 2-D convs over shifted frames
  (no runtime has a fast 3-D depthwise conv);
- TF 'SAME' padding is computed once, for the frame size given, so nothing
  in ``forward`` depends on Python shape logic;
- stream buffers are joined with ``torch.cat``.

The stream module is the pure function
``forward(image, *states) -> (logits, *new_states)`` for one frame of one
video (batch 1). The states are positional, in the order of ``state_names``:
the order of ``recognizer.init_state(1, frame_size)``, i.e. the model order
of the layers (block by block, layer by layer; within a layer
``_stream_buffer``, ``_pool_buffer``, ``_pool_frame_count``,
``_pos_enc_frame_count``), then ``state_head_pool_buffer`` and
``state_head_pool_frame_count``. Shapes and dtypes are those of
``init_state``: float32 buffers and int64 ``[1]`` frame counts (the running
means divide by ``count + 1`` cast to float; ORT and OpenVINO run int64 ops
natively, on XNNPACK these few scalar ops fall back to portable kernels).

The clip module is ``forward(video [1, 3, T, H, W]) -> logits`` with a free
``T`` (or a fixed one with ``frames=``); for a causal model it equals
streaming the clip frame by frame.
"""
import math
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.layers import (ConvBlock, HardSigmoid, HardSwish,
                             MovinetBottleneck, StreamConvBlock,
                             StreamSqueezeExcitation, tf_same_padding)

MODES = ('stream', 'clip')
MIN_FRAME_SIZE = 32
States = Dict[str, Tensor]


# ------------------------------------------------------------------ helpers
def _inference_activation(act: Optional[nn.Module]) -> Optional[nn.Module]:
    """The activation as a single exportable op where one exists."""
    if act is None or isinstance(act, nn.Identity):
        return None
    if isinstance(act, HardSwish):
        # x * relu6(x + 3) / 6 as one op (ONNX HardSwish, XNNPACK hardswish)
        return nn.Hardswish()
    if isinstance(act, HardSigmoid):
        return HardSigmoid()  # 0.16667 is not 1/6: keep the official form
    return type(act)()


def _folded(block: ConvBlock, scale: float = 1.0) -> Tuple[Tensor, Tensor]:
    """Conv weight and bias with the BN (and ``scale``) folded in, float64."""
    conv = block.conv
    weight = conv.weight.detach().double()
    bias = (conv.bias.detach().double() if conv.bias is not None else
            torch.zeros(weight.shape[0], dtype=torch.float64))
    bn = block.bn
    if bn is not None:
        gamma = (bn.weight.detach().double() if bn.weight is not None else
                 torch.ones_like(bias))
        beta = (bn.bias.detach().double() if bn.bias is not None else
                torch.zeros_like(bias))
        factor = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
        weight = weight * factor.view(-1, *([1] * (weight.dim() - 1)))
        bias = (bias - bn.running_mean.double()) * factor + beta
    return weight * scale, bias * scale


def _conv2d(weight: Tensor, bias: Optional[Tensor], stride, padding,
            groups: int) -> nn.Conv2d:
    out_c, in_per_group, kh, kw = weight.shape
    conv = nn.Conv2d(in_per_group * groups, out_c, (kh, kw), stride, padding,
                     groups=groups, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(weight.float())
        if bias is not None:
            conv.bias.copy_(bias.float())
    return conv.requires_grad_(False)


def _same_pads(size: Tuple[int, int], kernel: Tuple[int, int],
               stride: Tuple[int, int]):
    """(conv padding, explicit pad or None, output size) of a TF 'SAME' conv."""
    (h, w), (kh, kw), (sh, sw) = size, kernel, stride
    top, bottom = tf_same_padding(h, kh, sh)
    left, right = tf_same_padding(w, kw, sw)
    out = (math.ceil(h / sh), math.ceil(w / sw))
    if top == bottom and left == right:
        return (top, left), None, out
    return (0, 0), (left, right, top, bottom), out


class Conv(nn.Module):
    """A 4-D conv with static 'SAME' padding, folded BN and an activation."""

    def __init__(self, conv: nn.Conv2d, pad: Optional[Tuple[int, ...]],
                 act: Optional[nn.Module]):
        super().__init__()
        self.conv = conv
        self.pad = pad
        self.act = act

    @classmethod
    def from_block(cls, block: ConvBlock, size: Tuple[int, int],
                   scale: float = 1.0) -> Tuple['Conv', Tuple[int, int]]:
        """A ``ConvBlock`` with a (1, kh, kw) kernel at input ``size``."""
        kt, kh, kw = block.kernel_size
        if kt != 1:
            raise ValueError(f'not a per-frame conv: kernel {block.kernel_size}')
        weight, bias = _folded(block, scale)
        weight = weight.reshape(weight.shape[0], weight.shape[1], kh, kw)
        padding, pad, out = _same_pads(size, (kh, kw), block.stride[1:])
        conv = _conv2d(weight, bias, block.stride[1:], padding,
                       block.conv.groups)
        return cls(conv, pad, _inference_activation(block.act)), out

    def forward(self, x: Tensor) -> Tensor:
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = self.conv(x)
        return x if self.act is None else self.act(x)


class TemporalConv(nn.Module):
    """A causal or 'SAME' (kt, 1) depthwise conv over time, optionally buffered."""

    def __init__(self, block: ConvBlock, causal: bool,
                 buffer_name: Optional[str]):
        super().__init__()
        kt = block.kernel_size[0]
        weight, bias = _folded(block)
        weight = weight.reshape(weight.shape[0], weight.shape[1], kt, 1)
        self.conv = _conv2d(weight, bias, 1, 0, block.conv.groups)
        self.act = _inference_activation(block.act)
        self.kt = kt
        self.time_pad = (kt - 1, 0) if causal else ((kt - 1) // 2,
                                                     kt - 1 - (kt - 1) // 2)
        self.buffer_name = buffer_name

    def _act(self, x: Tensor) -> Tensor:
        return x if self.act is None else self.act(x)

    def stream(self, x: Tensor, state: States, new_state: States) -> Tensor:
        # The kt frames stacked on the height axis, [1, C, kt*H, W], and the
        # (kt, 1) kernel dilated by H: one 4-D conv gives the output frame
        # with no reshape of the activation, and XNNPACK delegates the whole
        # step as one graph (5-D ops would cut it at every layer).
        _, c, h, w = x.shape
        buffer = state[self.buffer_name].reshape(1, c, (self.kt - 1) * h, w)
        full = torch.cat([buffer, x], dim=2)
        new_state[self.buffer_name] = full[:, :, h:].reshape(
            1, c, self.kt - 1, h, w)
        return self._act(F.conv2d(full, self.conv.weight, self.conv.bias,
                                  dilation=(h, 1), groups=self.conv.groups))

    def clip(self, x: Tensor) -> Tensor:
        t, c, h, w = x.shape
        y = x.reshape(t, c, h * w).transpose(0, 1).unsqueeze(0)
        y = self.conv(F.pad(y, (0, 0, *self.time_pad)))
        return self._act(y[0].transpose(0, 1).reshape(t, c, h, w))


class SpatioTemporalConv(nn.Module):
    """A full (kt, kh, kw) conv as the sum of kt 2-D convs of shifted frames."""

    def __init__(self, block: ConvBlock, size: Tuple[int, int], causal: bool,
                 buffer_name: Optional[str]):
        super().__init__()
        kt, kh, kw = block.kernel_size
        weight, bias = _folded(block)
        padding, self.pad, self.out_size = _same_pads(size, (kh, kw),
                                                      block.stride[1:])
        self.convs = nn.ModuleList(
            _conv2d(weight[:, :, k], bias if k == kt - 1 else None,
                    block.stride[1:], padding, block.conv.groups)
            for k in range(kt))
        self.act = _inference_activation(block.act)
        self.kt = kt
        self.time_pad = (kt - 1, 0) if causal else ((kt - 1) // 2,
                                                     kt - 1 - (kt - 1) // 2)
        self.buffer_name = buffer_name

    def _sum(self, frames: Tensor, t) -> Tensor:
        if self.pad is not None:
            frames = F.pad(frames, self.pad)
        y = self.convs[0](frames[0:t])
        for k in range(1, self.kt):
            y = y + self.convs[k](frames[k:k + t])
        return y if self.act is None else self.act(y)

    def stream(self, x: Tensor, state: States, new_state: States) -> Tensor:
        full = torch.cat([state[self.buffer_name], x.unsqueeze(2)], dim=2)
        new_state[self.buffer_name] = full[:, :, 1:]
        return self._sum(full[0].transpose(0, 1), 1)

    def clip(self, x: Tensor) -> Tensor:
        before, after = self.time_pad
        frames = F.pad(x, (0, 0, 0, 0, 0, 0, before, after))
        return self._sum(frames, x.shape[0])


class SkipPool(nn.Module):
    """TF 'SAME' 3x3/2 average pool that excludes padding, for a fixed size."""

    def __init__(self, size: Tuple[int, int]):
        super().__init__()
        h, w = size
        top, bottom = tf_same_padding(h, 3, 2)
        left, right = tf_same_padding(w, 3, 2)
        self.pad = (left, right, top, bottom)
        out_h, out_w = math.ceil(h / 2), math.ceil(w / 2)

        def cells(n, before, out):
            return [min(2 * i - before + 3, n) - max(2 * i - before, 0)
                    for i in range(out)]

        count = (torch.tensor(cells(h, top, out_h), dtype=torch.float64)[:, None]
                 * torch.tensor(cells(w, left, out_w), dtype=torch.float64))
        # avg_pool2d divides by 9; rescale to the real cells of each window
        self.register_buffer('rescale', (9.0 / count).float().view(
            1, 1, out_h, out_w), persistent=False)
        self.out_size = (out_h, out_w)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(F.pad(x, self.pad), 3, 2) * self.rescale


def _frame_counts(count: Tensor, t) -> Tensor:
    """Divisors ``count + 1 .. count + t`` as floats, ``[t, 1, 1, 1]``."""
    steps = torch.arange(1, t + 1, dtype=torch.int64, device=count.device)
    return (count + steps).to(torch.float32).view(-1, 1, 1, 1)


class SqueezeExcite(nn.Module):
    """The MoViNet SE on ``[T, C, H, W]`` frames, causal when the model is."""

    def __init__(self, se: StreamSqueezeExcitation):
        super().__init__()
        self.se_type = se.se_type
        self.causal = se.causal
        self.pool_names = ((se.pool.buffer_name, se.pool.count_name)
                           if se.pool is not None else None)
        self.reduce, _ = Conv.from_block(se.se_reduce, (1, 1))
        self.expand, _ = Conv.from_block(se.se_expand, (1, 1))
        self.pos_count_name = None
        if se.pos_encoding is not None:
            channels = se.se_reduce.conv.in_channels
            idx = torch.arange(channels)
            power = (2 * (idx // 2)).to(torch.float32) / channels
            angles = 1.0 / torch.pow(10000.0, power)
            self.register_buffer('angles_sin', angles[0::2].clone(),
                                 persistent=False)
            self.register_buffer('angles_cos', angles[1::2].clone(),
                                 persistent=False)
            self.pos_scale = nn.Parameter(se.pos_encoding.scale.detach()
                                          .clone(), requires_grad=False)
            self.pos_count_name = se.pos_encoding.count_name

    def _encode(self, pooled: Tensor, positions: Tensor) -> Tensor:
        radians = positions.to(torch.float32).view(-1, 1)
        encoding = torch.cat([torch.sin(radians * self.angles_sin),
                              torch.cos(radians * self.angles_cos)], dim=1)
        return pooled + self.pos_scale * encoding.view(*pooled.shape)

    def _gate(self, x: Tensor, pooled: Tensor) -> Tensor:
        return x * self.expand(self.reduce(pooled))

    def stream(self, x: Tensor, state: States, new_state: States) -> Tensor:
        frame = x.mean(dim=(2, 3), keepdim=True)  # [1, C, 1, 1]
        pooled = frame
        if self.pool_names is not None:
            buffer_name, count_name = self.pool_names
            total = frame + state[buffer_name].reshape(frame.shape)
            count = state[count_name] + 1
            new_state[buffer_name] = total.reshape(1, -1, 1, 1, 1)
            new_state[count_name] = count
            pooled = total / count.to(torch.float32).view(1, 1, 1, 1)
            if self.se_type == '2plus3d':
                pooled = torch.cat([pooled, frame], dim=1)
        if self.pos_count_name is not None:
            count = state[self.pos_count_name]
            new_state[self.pos_count_name] = count + 1
            pooled = self._encode(pooled, count)
        return self._gate(x, pooled)

    def clip(self, x: Tensor) -> Tensor:
        t = x.shape[0]
        frames = x.mean(dim=(2, 3), keepdim=True)  # [T, C, 1, 1]
        pooled = frames
        if self.pool_names is not None:
            if self.causal:
                zero = torch.zeros(1, dtype=torch.int64, device=x.device)
                pooled = torch.cumsum(frames, dim=0) / _frame_counts(zero, t)
            else:
                pooled = frames.mean(dim=0, keepdim=True)
            if self.se_type == '2plus3d':
                pooled = torch.cat([pooled.expand_as(frames), frames], dim=1)
        if self.pos_count_name is not None:
            positions = torch.arange(t, dtype=torch.int64, device=x.device)
            pooled = self._encode(pooled, positions)
        return self._gate(x, pooled)


class Bottleneck(nn.Module):
    """expansion -> depthwise (stream) conv -> SE -> projection (+ skip)."""

    def __init__(self, layer: MovinetBottleneck, size: Tuple[int, int]):
        super().__init__()
        self.expansion, _ = Conv.from_block(layer.expansion, size)
        feature: StreamConvBlock = layer.feature
        buffer_name = (feature.stream_buffer.state_name
                       if feature.stream_buffer is not None else None)
        self.spatial = self.temporal = self.spatiotemporal = None
        if feature.conv_temporal is not None:
            self.spatial, out = Conv.from_block(feature.conv, size)
            self.temporal = TemporalConv(feature.conv_temporal,
                                         feature.causal, buffer_name)
        elif feature.conv.kernel_size[0] > 1:
            self.spatiotemporal = SpatioTemporalConv(
                feature.conv, size, feature.causal, buffer_name)
            out = self.spatiotemporal.out_size
        else:
            self.spatial, out = Conv.from_block(feature.conv, size)
        self.se = SqueezeExcite(layer.se) if layer.se is not None else None
        rezero = float(layer.rezero.detach())
        self.projection, _ = Conv.from_block(layer.projection, out, rezero)
        self.skip_pool = self.skip_projection = None
        if layer.skip is not None:
            if layer.skip.pool is not None:
                self.skip_pool = SkipPool(size)
            self.skip_projection, _ = Conv.from_block(layer.skip.projection,
                                                      out)
        self.out_size = out

    def _shortcut(self, x: Tensor) -> Tensor:
        if self.skip_projection is None:
            return x
        if self.skip_pool is not None:
            x = self.skip_pool(x)
        return self.skip_projection(x)

    def stream(self, x: Tensor, state: States, new_state: States) -> Tensor:
        out = self.expansion(x)
        if self.spatiotemporal is not None:
            out = self.spatiotemporal.stream(out, state, new_state)
        else:
            out = self.spatial(out)
            if self.temporal is not None:
                out = self.temporal.stream(out, state, new_state)
        if self.se is not None:
            out = self.se.stream(out, state, new_state)
        return self._shortcut(x) + self.projection(out)

    def clip(self, x: Tensor) -> Tensor:
        out = self.expansion(x)
        if self.spatiotemporal is not None:
            out = self.spatiotemporal.clip(out)
        else:
            out = self.spatial(out)
            if self.temporal is not None:
                out = self.temporal.clip(out)
        if self.se is not None:
            out = self.se.clip(out)
        return self._shortcut(x) + self.projection(out)


class Head(nn.Module):
    """Mean over all frames seen, hidden layer, classifier (dropout is gone)."""

    def __init__(self, head):
        super().__init__()
        self.buffer_name = head.pool.buffer_name
        self.count_name = head.pool.count_name
        self.fc_hidden = _copy_linear(head.fc_hidden)
        self.act = _inference_activation(head.act)
        self.fc_cls = _copy_linear(head.fc_cls)

    def _classify(self, pooled: Tensor) -> Tensor:
        x = self.fc_hidden(pooled)
        if self.act is not None:
            x = self.act(x)
        return self.fc_cls(x)

    def stream(self, x: Tensor, state: States, new_state: States) -> Tensor:
        frame = x.mean(dim=(2, 3), keepdim=True).reshape(1, -1)  # [1, C]
        total = frame + state[self.buffer_name].reshape(frame.shape)
        count = state[self.count_name] + 1
        new_state[self.buffer_name] = total.reshape(1, -1, 1, 1, 1)
        new_state[self.count_name] = count
        return self._classify(total / count.to(torch.float32).view(1, 1))

    def clip(self, x: Tensor) -> Tensor:
        return self._classify(x.mean(dim=(2, 3)).mean(dim=0, keepdim=True))


def _copy_linear(linear: nn.Linear) -> nn.Linear:
    out = nn.Linear(linear.in_features, linear.out_features,
                    bias=linear.bias is not None)
    out.load_state_dict(linear.state_dict())
    return out.requires_grad_(False)


class _Network(nn.Module):
    """The converted layers, shared by the stream and clip modules."""

    def __init__(self, recognizer, frame_size: Tuple[int, int]):
        super().__init__()
        backbone = recognizer.backbone
        self.stem, size = Conv.from_block(backbone.stem, frame_size)
        layers = []
        for block in backbone.blocks:
            for layer in block:
                layers.append(Bottleneck(layer, size))
                size = layers[-1].out_size
        self.layers = nn.ModuleList(layers)
        self.project, _ = Conv.from_block(backbone.project, size)
        self.head = Head(recognizer.cls_head)


class StreamInferenceModel(nn.Module):
    """One frame of one stream: ``forward(image, *states) -> (logits, *states)``.

    Attributes:
        state_names: the states' order (that of ``recognizer.init_state``).
        state_shapes / state_dtypes: per name.
        frame_size: (H, W) the module was built for.
    """

    def __init__(self, recognizer, frame_size: Tuple[int, int]):
        super().__init__()
        self.net = _Network(recognizer, frame_size)
        self.frame_size = tuple(frame_size)
        init = recognizer.init_state(1, self.frame_size)
        self.state_names = tuple(init)
        self.state_shapes = OrderedDict(
            (name, tuple(value.shape)) for name, value in init.items())
        self.state_dtypes = OrderedDict(
            (name, value.dtype) for name, value in init.items())
        self.num_classes = recognizer.cls_head.num_classes

    def init_states(self) -> Tuple[Tensor, ...]:
        return tuple(torch.zeros(self.state_shapes[n], dtype=self.state_dtypes[n])
                     for n in self.state_names)

    def forward(self, image: Tensor, *states: Tensor) -> Tuple[Tensor, ...]:
        h, w = self.frame_size
        if tuple(image.shape) != (1, 3, 1, h, w):
            raise ValueError(f'expected one frame [1, 3, 1, {h}, {w}], got '
                             f'{tuple(image.shape)}')
        if len(states) != len(self.state_names):
            raise ValueError(f'expected {len(self.state_names)} states in the '
                             f'order of state_names, got {len(states)}')
        state = dict(zip(self.state_names, states))
        new_state: States = {}
        net = self.net
        x = net.stem(image.reshape(1, 3, h, w))
        for layer in net.layers:
            x = layer.stream(x, state, new_state)
        logits = net.head.stream(net.project(x), state, new_state)
        return (logits, *(new_state[name] for name in self.state_names))


class ClipInferenceModel(nn.Module):
    """A whole clip: ``forward(video [1, 3, T, H, W]) -> logits [1, K]``."""

    def __init__(self, recognizer, frame_size: Tuple[int, int],
                 frames: Optional[int] = None):
        super().__init__()
        self.net = _Network(recognizer, frame_size)
        self.frame_size = tuple(frame_size)
        self.frames = frames
        self.num_classes = recognizer.cls_head.num_classes

    def forward(self, video: Tensor) -> Tensor:
        h, w = self.frame_size
        if video.dim() != 5 or video.shape[0] != 1 or video.shape[1] != 3 \
                or tuple(video.shape[3:]) != (h, w):
            raise ValueError(f'expected a clip [1, 3, T, {h}, {w}], got '
                             f'{tuple(video.shape)}')
        if self.frames is not None and video.shape[2] != self.frames:
            raise ValueError(f'this model takes clips of {self.frames} '
                             f'frames, got {video.shape[2]}')
        net = self.net
        x = net.stem(video[0].transpose(0, 1))
        for layer in net.layers:
            x = layer.clip(x)
        return net.head.clip(net.project(x))


def build_inference_model(recognizer, mode: str,
                          frame_size: Sequence[int] = (172, 172),
                          frames: Optional[int] = None) -> nn.Module:
    """The inference form of ``recognizer`` for ``mode`` 'stream' or 'clip'.

    Args:
        recognizer: a MoViNetRecognizer (any conv type; '3d_2plus1d' weights
            are used as the equivalent '2plus1d' ones). Its current weights
            and BN statistics are copied; it is not modified.
        mode: 'stream' (causal models only: one frame per call, explicit
            state) or 'clip' (a whole clip per call).
        frame_size: (H, W) of the network input; the 'SAME' padding is fixed
            for it.
        frames: clip length for 'clip' (None: any length).
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    frame_size = tuple(int(s) for s in frame_size)
    if len(frame_size) != 2 or min(frame_size) < MIN_FRAME_SIZE:
        raise ValueError(f'frame size must be (H, W) with both at least '
                         f'{MIN_FRAME_SIZE} px (MoViNets stride by 32), got '
                         f'{frame_size}')
    backbone = getattr(recognizer, 'backbone', None)
    if backbone is None or not hasattr(backbone, 'blocks'):
        raise TypeError('expected a MoViNetRecognizer, got '
                        f'{type(recognizer).__name__}')
    if mode == 'stream' and not backbone.causal:
        raise ValueError('stream mode needs a causal (stream) MoViNet; this '
                         "is a base model: export it with mode 'clip'")
    if frames is not None and frames < 1:
        raise ValueError(f'frames must be >= 1, got {frames}')
    with torch.no_grad():
        if mode == 'stream':
            model = StreamInferenceModel(recognizer, frame_size)
        else:
            model = ClipInferenceModel(recognizer, frame_size, frames)
    return model.eval().requires_grad_(False)


def stream_frames(model: StreamInferenceModel, video: Tensor,
                  states: Optional[Sequence[Tensor]] = None
                  ) -> Tuple[List[Tensor], Tuple[Tensor, ...]]:
    """Feed the frames of ``video`` [1, 3, T, H, W] one by one.

    Returns the logits after every frame and the last states.
    """
    states = tuple(states) if states is not None else model.init_states()
    logits = []
    for t in range(video.shape[2]):
        out = model(video[:, :, t:t + 1], *states)
        logits.append(out[0])
        states = out[1:]
    return logits, states
