"""The streaming state: a flat mapping of named tensors, passed in and out.

Names follow the official TensorFlow MoViNet (``state_block{i}_layer{j}_stream_buffer``,
``..._pool_buffer``, ``..._pool_frame_count``, ``..._pos_enc_frame_count``,
``state_head_pool_buffer``, ``state_head_pool_frame_count``), so conversion and
export stay mechanical. Layouts are PyTorch's (channels first):

- ``*_stream_buffer``: ``[N, C, kt - 1, H, W]``, the last frames a causal conv saw;
- ``*_pool_buffer``: ``[N, C, 1, 1, 1]``, a running sum of per-frame spatial means;
- ``*_frame_count``: ``[N]`` int64, frames seen so far (per sample, unlike TF's
  shared ``[1]``, so that one sample of a batch can be reset alone).

Every tensor has the batch first, so a state can be sliced, stacked and reset
per sample. Float tensors follow the input's dtype and device.

The inference form (``movinet_mm.deploy``) keeps the same names and bytes in
one of three layouts (``STATE_LAYOUTS``), the exported step's ``meta.json``
says which:

- ``'eager'``: the shapes above;
- ``'channels_first'``: 4-D, the buffered frames stacked on the height axis,
  ``[N, C, (kt - 1) * H, W]``, so a step updates them without reshapes;
- ``'channels_last'``: the same frames NHWC, ``[N, (kt - 1) * H, W, C]``, for
  runtimes that compute in NHWC (XNNPACK through LiteRT): nothing is
  transposed at the step's inputs and outputs.

In both 4-D layouts a pool sum is ``[N, C, 1, 1]`` (no spatial extent: the
same bytes either way) and a frame count stays ``[N]``.
"""
from typing import Dict, Mapping, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

StreamState = Dict[str, Tensor]


class StateSpec(NamedTuple):
    """Shape and dtype of one state tensor; float buffers take the input's dtype."""
    shape: Tuple[int, ...]
    dtype: torch.dtype = torch.float32


StateSpecs = Dict[str, StateSpec]


def frame_count_spec(batch_size: int) -> StateSpec:
    return StateSpec((batch_size, ), torch.long)


def is_frame_count(name: str) -> bool:
    return name.endswith('frame_count')


STATE_LAYOUTS = ('eager', 'channels_first', 'channels_last')


def check_state_layout(layout: str) -> str:
    if layout not in STATE_LAYOUTS:
        raise ValueError(f'state layout must be one of {STATE_LAYOUTS}, got '
                         f'{layout!r}')
    return layout


def _permute(value, axes):
    """``value`` (a tensor or a numpy array) with its axes in ``axes``."""
    if isinstance(value, Tensor):
        return value.permute(*axes)
    return value.transpose(axes)


def _nhwc(name: str, layout: str) -> bool:
    """State ``name`` has its channels last in ``layout``."""
    return layout == 'channels_last' and not name.endswith('pool_buffer')


def layout_shape(name: str, shape, layout: str) -> Tuple[int, ...]:
    """The shape of state ``name`` (eager ``shape``) in ``layout``."""
    shape = tuple(int(d) for d in shape)
    if check_state_layout(layout) == 'eager' or len(shape) != 5:
        return shape
    n, c, k, h, w = shape
    return (n, k * h, w, c) if _nhwc(name, layout) else (n, c, k * h, w)


def to_layout(name: str, value, layout: str):
    """State ``name`` in ``layout``, from its eager form (tensor or array)."""
    shape = layout_shape(name, value.shape, layout)
    if layout == 'eager' or len(value.shape) != 5:
        return value
    if _nhwc(name, layout):
        value = _permute(value, (0, 2, 3, 4, 1))
    return value.reshape(shape)


def from_layout(name: str, value, eager_shape, layout: str):
    """State ``name`` in its eager form ``eager_shape``, from ``layout``."""
    eager_shape = tuple(int(d) for d in eager_shape)
    if check_state_layout(layout) == 'eager' or len(eager_shape) != 5:
        return value
    n, c, k, h, w = eager_shape
    if _nhwc(name, layout):
        return _permute(value.reshape(n, k, h, w, c), (0, 4, 1, 2, 3))
    return value.reshape(eager_shape)


def lookup(state: Optional[Mapping[str, Tensor]], name: str) -> Optional[Tensor]:
    """The entry ``name`` of ``state``, or None when streams start fresh."""
    if state is None:
        return None
    return state.get(name)


def zero_frame_count(x: Tensor) -> Tensor:
    return torch.zeros(x.shape[0], dtype=torch.long, device=x.device)


def frame_count(state: Optional[Mapping[str, Tensor]], name: str,
                x: Tensor) -> Tensor:
    """The frame count ``name`` of ``state`` for input ``x``, zero when fresh."""
    count = lookup(state, name)
    if count is None:
        return zero_frame_count(x)
    n = x.shape[0]
    if count.shape != (n, ):
        raise ValueError(f'state {name!r} has shape {tuple(count.shape)}, '
                         f'expected ({n},)')
    return count


def reset_state(state: Mapping[str, Tensor], mask: Tensor) -> StreamState:
    """A new state in which the samples where ``mask`` is True start afresh.

    Args:
        state: a state returned by ``stream_step``.
        mask: bool tensor ``[N]``; True resets that sample's stream.
    """
    mask = torch.as_tensor(mask, dtype=torch.bool)
    out: StreamState = {}
    for name, value in state.items():
        if mask.shape != (value.shape[0], ):
            raise ValueError(
                f'reset mask must have shape [{value.shape[0]}] (one flag per '
                f'sample), got {tuple(mask.shape)}')
        reset = mask.to(value.device).view(-1, *([1] * (value.dim() - 1)))
        out[name] = torch.where(reset, torch.zeros_like(value), value)
    return out


def select_samples(state: Mapping[str, Tensor], index: Tensor) -> StreamState:
    """The state of the samples ``index`` (e.g. to drop finished streams)."""
    return {name: value[index] for name, value in state.items()}


def state_nbytes(state: Mapping[str, Tensor]) -> int:
    return sum(v.numel() * v.element_size() for v in state.values())


def check_state(state: Mapping[str, Tensor], expected: Mapping[str, tuple],
                owner: str, like: Optional[Tensor] = None) -> None:
    """Raise a ValueError unless ``state`` has every expected name, shape
    and dtype.

    Frame counts must be integer tensors (not bool). Buffers must be
    floating point and, with ``like`` (the input of the call), of its dtype
    and device; under autocast any floating dtype is accepted, since the
    buffers then hold activations in the autocast dtype.
    """
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(
            f'the stream state lacks {len(missing)} entries of the {owner} '
            f'(e.g. {missing[:3]}): it was built for another model; start a '
            'new stream with state=None')
    not_tensors = [name for name in expected
                   if not isinstance(state[name], Tensor)]
    if not_tensors:
        raise ValueError(
            f'stream state entries of the {owner} must be tensors, got '
            f'{type(state[not_tensors[0]]).__name__} for {not_tensors[0]!r}')
    wrong = [f'{name}: {tuple(state[name].shape)} != {tuple(shape)}'
             for name, shape in expected.items()
             if tuple(state[name].shape) != tuple(shape)]
    if wrong:
        raise ValueError(
            f'{len(wrong)} stream state entries of the {owner} do not fit '
            'this input (batch size, frame size or model differ): '
            + '; '.join(wrong[:3]))
    autocast = like is not None and autocast_enabled(like.device.type)
    for name in expected:
        value = state[name]
        if is_frame_count(name):
            if value.is_floating_point() or value.is_complex() or \
                    value.dtype == torch.bool:
                raise ValueError(
                    f'stream state {name!r} is a frame count and must be an '
                    f'integer tensor (torch.long), got {value.dtype}')
        elif not value.is_floating_point():
            raise ValueError(
                f'stream state {name!r} must be a floating point tensor '
                f'(the dtype of the input), got {value.dtype}')
        elif like is not None and not autocast and value.dtype != like.dtype:
            raise ValueError(
                f'stream state {name!r} is {value.dtype} but the input is '
                f'{like.dtype}: a state continues a stream of the same dtype '
                '(start with state=None or cast the state)')
        if like is not None and value.device != like.device:
            raise ValueError(
                f'stream state {name!r} is on {value.device} but the input '
                f'is on {like.device}')


def autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except (TypeError, RuntimeError):  # device types autocast does not know
        return False
