"""Poolings: the skip path's TF 'SAME' average pool and the stateful global poolings."""
import math
from typing import Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conv import folded_padding, tf_same_padding
from .fast_ops import fast_ops_enabled, frames_view, from_frames
from .state import (
    StateSpec,
    StateSpecs,
    StreamState,
    frame_count,
    frame_count_spec,
    lookup,
)


def _valid_cells(size: int, pad_before: int, out_size: int) -> list:
    """How many real cells each 3-wide, stride-2 window covers."""
    starts = [2 * i - pad_before for i in range(out_size)]
    return [min(s + 3, size) - max(s, 0) for s in starts]


class SamePadAvgPool(nn.Module):
    """3x3 stride-2 spatial average pool, TF 'SAME', padding excluded.

    TF divides each window by the number of real (unpadded) cells, and its
    'SAME' padding is asymmetric on even sizes, so we pad explicitly, sum
    each window and divide by the count of real cells in it.
    """

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        top, bottom = tf_same_padding(h, 3, 2)
        left, right = tf_same_padding(w, 3, 2)
        padded = F.pad(x, (left, right, top, bottom))
        n, c, t = padded.shape[:3]
        # avg_pool2d over [N, C*T, H, W]: unlike avg_pool3d it has bfloat16
        # and float16 CPU kernels. The fast form pools the channels-last
        # [N*T, C, H, W] frames instead (no copy).
        if fast_ops_enabled(x):
            sums = from_frames(F.avg_pool2d(frames_view(padded), 3, 2,
                                            divisor_override=1), n)
        else:
            sums = F.avg_pool2d(
                padded.reshape(n, c * t, *padded.shape[-2:]), 3, 2,
                divisor_override=1)
            sums = sums.reshape(n, c, t, *sums.shape[-2:])
        rows = _valid_cells(h, top, sums.shape[-2])
        cols = _valid_cells(w, left, sums.shape[-1])
        count = torch.tensor(rows, dtype=x.dtype, device=x.device)[:, None] * \
            torch.tensor(cols, dtype=x.dtype, device=x.device)[None, :]
        return sums / count

    def to_inference(self, size: Tuple[int, int],
                     channels: Optional[int] = None
                     ) -> Tuple['InferenceAvgPool', Tuple[int, int]]:
        pool = InferenceAvgPool(size, channels)
        return pool, pool.out_size


class InferenceAvgPool(nn.Module):
    """:class:`SamePadAvgPool` on ``[T, C, H, W]`` frames of a fixed size:
    the padding and each window's real-cell count are computed once."""

    def __init__(self, size: Tuple[int, int], channels: Optional[int] = None):
        super().__init__()
        self.channels = channels
        self.crop = None  # (rows, cols) dropped first, once the pad is folded
        h, w = size
        top, bottom = tf_same_padding(h, 3, 2)
        left, right = tf_same_padding(w, 3, 2)
        self.pad = (left, right, top, bottom)
        out_h, out_w = math.ceil(h / 2), math.ceil(w / 2)
        count = (torch.tensor(_valid_cells(h, top, out_h),
                              dtype=torch.float64)[:, None] *
                 torch.tensor(_valid_cells(w, left, out_w),
                              dtype=torch.float64))
        # avg_pool2d divides by 9; rescale to the real cells of each window
        self.register_buffer('rescale', (9.0 / count).float().view(
            1, 1, out_h, out_w), persistent=False)
        self.out_size = (out_h, out_w)

    def fold_pad(self) -> None:
        """The pad folded into the window (``folded_padding``): the window
        sums as a depthwise conv of ones (avg_pool2d allows no padding
        beyond half the window), then a crop and the real-cell division."""
        if self.crop is not None or self.channels is None:
            return
        self.padding, self.crop = folded_padding(self.pad, (2, 2))
        self.register_buffer('ones', torch.ones(self.channels, 1, 3, 3),
                             persistent=False)
        self.rescale = self.rescale / 9.0

    def forward(self, x: Tensor) -> Tensor:
        if self.crop is None:
            return F.avg_pool2d(F.pad(x, self.pad), 3, 2) * self.rescale
        (rows, cols), (h, w) = self.crop, self.out_size
        sums = F.conv2d(x, self.ones, None, 2, self.padding,
                        groups=self.channels)
        return sums[:, :, rows:rows + h, cols:cols + w] * self.rescale


def spatial_mean(x: Tensor) -> Tensor:
    """``[N, C, T, H, W]`` -> ``[N, C, T, 1, 1]``.

    Fast form: the sum, scaled; its gradient is a broadcast view instead of
    a divided copy of the whole input."""
    if fast_ops_enabled():
        h, w = x.shape[-2:]
        return x.sum(dim=(3, 4), keepdim=True) * (1.0 / (h * w))
    return x.mean(dim=(3, 4), keepdim=True)


class GlobalAvgPool(nn.Module):
    """Global average over time and space that can continue across calls.

    State: ``{prefix}_pool_buffer`` (running sum over frames of the per-frame
    spatial means, ``[N, C, 1, 1, 1]``) and ``{prefix}_pool_frame_count``.

    - ``causal=False``: one mean over every frame seen so far,
      ``[N, C, 1, 1, 1]`` (the head's pool, and the base models' SE).
    - ``causal=True``: a cumulative mean, one per frame: output frame t is
      the mean over frames 0..t, ``[N, C, T, 1, 1]`` (the stream SE).
    """

    def __init__(self, causal: bool, state_prefix: str):
        super().__init__()
        self.causal = causal
        self.buffer_name = f'{state_prefix}_pool_buffer'
        self.count_name = f'{state_prefix}_pool_frame_count'

    def forward(self, x: Tensor, state: Optional[Mapping[str, Tensor]] = None
                ) -> Tuple[Tensor, StreamState]:
        frames = spatial_mean(x)
        n, _, t = frames.shape[:3]
        buffer = lookup(state, self.buffer_name)
        count = frame_count(state, self.count_name, x)
        if self.causal:
            sums = torch.cumsum(frames, dim=2)
            if buffer is not None:
                sums = sums + buffer.to(sums.dtype)
            steps = torch.arange(1, t + 1, device=x.device)
            divisor = (count.view(n, 1) + steps.view(1, t)).to(sums.dtype)
            out = sums / divisor.view(n, 1, t, 1, 1)
            new_buffer = sums[:, :, -1:]
        else:
            new_buffer = frames.sum(dim=2, keepdim=True)
            if buffer is not None:
                new_buffer = new_buffer + buffer.to(new_buffer.dtype)
            divisor = (count + t).to(new_buffer.dtype)
            out = new_buffer / divisor.view(n, 1, 1, 1, 1)
        if buffer is not None and buffer.shape != new_buffer.shape:
            raise ValueError(f'state {self.buffer_name!r} has shape '
                             f'{tuple(buffer.shape)}, expected '
                             f'{tuple(new_buffer.shape)}')
        return out, {self.buffer_name: new_buffer, self.count_name: count + t}

    def state_spec(self, batch_size: int, channels: int) -> StateSpecs:
        return {self.buffer_name: StateSpec((batch_size, channels, 1, 1, 1)),
                self.count_name: frame_count_spec(batch_size)}

    def stream_frame(self, frame: Tensor, state: Mapping[str, Tensor],
                     new_state: StreamState) -> Tensor:
        """Inference form, one frame's spatial mean ``[1, C, 1, 1]``: the
        mean over every frame seen, with the state updated in ``new_state``."""
        buffer = state[self.buffer_name]  # [1, C, 1, 1(, 1)]: either layout
        total = frame + buffer.reshape(frame.shape)
        count = state[self.count_name] + 1
        new_state[self.buffer_name] = total.reshape(buffer.shape)
        new_state[self.count_name] = count
        return total / count.to(torch.float32).view(1, 1, 1, 1)
