"""The stream buffer: the one mechanism behind every causal temporal conv."""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .state import StateSpec, StateSpecs


def zero_frames(x: Tensor, size: int) -> Tensor:
    """``size`` zero frames shaped like those of ``x`` ``[N, C, T, H, W]``."""
    n, c, _, h, w = x.shape
    if x.is_contiguous(memory_format=torch.channels_last_3d) and \
            not x.is_contiguous():
        # keep the fast form's channels-last layout through the concatenation
        return torch.empty((n, c, size, h, w), dtype=x.dtype, device=x.device,
                           memory_format=torch.channels_last_3d).zero_()
    return x.new_zeros(n, c, size, h, w)


def causal_pad(x: Tensor, size: int) -> Tensor:
    """``x`` after ``size`` zero frames: a fresh stream buffer's input."""
    return torch.cat([zero_frames(x, size), x], dim=2)


class StreamBuffer(nn.Module):
    """Prepends the last ``size`` frames seen before ``x`` along time (dim 2).

    A zero buffer (``buffer=None``) is exactly causal zero padding, so the
    first sub-clip of a stream and a whole clip are computed the same way.
    Returns the extended input and the next buffer, the last ``size`` frames
    of it; when ``x`` has fewer frames than ``size``, the next buffer keeps
    the tail of the previous one.
    """

    def __init__(self, size: int, state_name: str):
        super().__init__()
        if size < 1:
            raise ValueError(f'buffer size must be >= 1, got {size}')
        self.size = size
        self.state_name = state_name

    def state_spec(self, batch_size: int, channels: int,
                   frame_size: Tuple[int, int]) -> StateSpecs:
        return {self.state_name: StateSpec(
            (batch_size, channels, self.size, *frame_size))}

    def forward(self, x: Tensor,
                buffer: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        if buffer is None:
            buffer = zero_frames(x, self.size)
        else:
            expected = (x.shape[0], x.shape[1], self.size, *x.shape[3:])
            if tuple(buffer.shape) != expected:
                raise ValueError(
                    f'state {self.state_name!r} has shape '
                    f'{tuple(buffer.shape)}, expected {expected} for an input '
                    f'of shape {tuple(x.shape)}: the state was built for '
                    'another batch size, frame size or model')
        full = torch.cat([buffer.to(x.dtype), x], dim=2)
        return full, full[:, :, -self.size:]

    def extra_repr(self) -> str:
        return f'size={self.size}, state_name={self.state_name!r}'
