"""The inference form of a trained MoViNet: static, 4-D, BN folded, explicit state.

``build_inference_model(recognizer, 'stream' | 'clip', frame_size)`` turns a
trained :class:`~movinet_mm.models.MoViNetRecognizer` (eval-mode semantics)
into a plain ``nn.Module`` made for export and fast CPU inference. Each
layer gives its own inference form (``to_inference`` in
:mod:`movinet_mm.models.layers`); this module only joins them:

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
``state_head_pool_frame_count``: float32 buffers and int64 ``[1]`` frame
counts (the running means divide by ``count + 1`` cast to float; ORT and
OpenVINO run int64 ops natively, on XNNPACK these few scalar ops fall back
to portable kernels). The buffers' shapes are those of ``init_state`` in
``state_layout`` (``movinet_mm.models.layers.state``): ``'channels_first'``
by default, ``[1, C, (kt-1)*H, W]`` buffers that the step updates without
reshapes; ``'channels_last'`` for NHWC runtimes; ``'eager'`` keeps
``init_state``'s 5-D shapes. :meth:`StreamInferenceModel.states_from_eager`
and :meth:`~StreamInferenceModel.states_to_eager` convert.

The clip module is ``forward(video [1, 3, T, H, W]) -> logits`` with a free
``T`` (or a fixed one with ``frames=``); for a causal model it equals
streaming the clip frame by frame.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..models.backbones.movinet_arch import MIN_FRAME_SIZE
from ..models.layers.state import (
    check_state_layout,
    from_layout,
    layout_shape,
    to_layout,
)

MODES = ('stream', 'clip')
States = Dict[str, Tensor]


class _Network(nn.Module):
    """The inference forms of the recognizer's layers (each layer's
    ``to_inference``), shared by the stream and clip modules."""

    def __init__(self, recognizer, frame_size: Tuple[int, int]):
        super().__init__()
        backbone = recognizer.backbone
        self.stem, size = backbone.stem.to_inference(frame_size)
        layers = []
        for layer in backbone.layers():
            form, size = layer.to_inference(size)
            layers.append(form)
        self.layers = nn.ModuleList(layers)
        self.project, _ = backbone.project.to_inference(size)
        self.head = recognizer.cls_head.to_inference()

    def fold_pads(self) -> None:
        """Every explicit stride-2 pad folded into its conv or pool (a
        symmetric pad and a crop): for runtimes that refuse quantized pads."""
        for module in self.modules():
            if hasattr(module, 'fold_pad'):
                module.fold_pad()


class StreamInferenceModel(nn.Module):
    """One frame of one stream: ``forward(image, *states) -> (logits, *states)``.

    Attributes:
        state_names: the states' order (that of ``recognizer.init_state``).
        state_shapes / state_dtypes: per name, in ``state_layout``.
        eager_state_shapes: per name, those of ``recognizer.init_state``.
        state_layout: one of ``STATE_LAYOUTS``.
        frame_size: (H, W) the module was built for.
    """

    def __init__(self, recognizer, frame_size: Tuple[int, int],
                 state_layout: str = 'channels_first'):
        super().__init__()
        self.net = _Network(recognizer, frame_size)
        self.frame_size = tuple(frame_size)
        self.state_layout = check_state_layout(state_layout)
        for module in self.net.modules():
            if hasattr(module, 'buffer_name'):  # the buffered temporal convs
                module.state_layout = state_layout
        spec = recognizer.state_spec(1, self.frame_size)
        self.state_names = tuple(spec)
        self.eager_state_shapes = OrderedDict(
            (name, tuple(s.shape)) for name, s in spec.items())
        self.state_shapes = OrderedDict(
            (name, layout_shape(name, s.shape, state_layout))
            for name, s in spec.items())
        self.state_dtypes = OrderedDict(
            (name, s.dtype) for name, s in spec.items())
        self.num_classes = recognizer.cls_head.num_classes
        # scores are sigmoid (not softmax) probabilities of the logits
        self.multi_label = bool(recognizer.cls_head.multi_class)

    def init_states(self) -> Tuple[Tensor, ...]:
        return tuple(torch.zeros(self.state_shapes[n], dtype=self.state_dtypes[n])
                     for n in self.state_names)

    def fold_pads(self) -> 'StreamInferenceModel':
        """The same step with no pad op (:meth:`_Network.fold_pads`), for
        XNNPACK int8; returns self."""
        self.net.fold_pads()
        return self

    def states_from_eager(self, state: States) -> Tuple[Tensor, ...]:
        """An eager ``stream_step`` state (a dict) as this module's states."""
        return tuple(to_layout(n, state[n], self.state_layout)
                     for n in self.state_names)

    def states_to_eager(self, states: Sequence[Tensor]) -> States:
        """This module's states as an eager ``stream_step`` state."""
        return {n: from_layout(n, s, self.eager_state_shapes[n],
                               self.state_layout)
                for n, s in zip(self.state_names, states)}

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
        # scores are sigmoid (not softmax) probabilities of the logits
        self.multi_label = bool(recognizer.cls_head.multi_class)

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
                          frames: Optional[int] = None,
                          state_layout: str = 'channels_first') -> nn.Module:
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
        state_layout: the stream states' layout (``STATE_LAYOUTS``).
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
            model = StreamInferenceModel(recognizer, frame_size, state_layout)
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
