"""The sine positional encoding of the stream models' squeeze-excitation."""
from typing import Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from .state import StreamState, lookup, zero_frame_count


def sine_encoding(positions: Tensor, channels: int) -> Tensor:
    """Encodings ``[N, T, channels]`` of integer ``positions`` ``[N, T]``.

    Channel i uses the angle 1 / 10000^(2 (i // 2) / channels); the sines of
    the even channels come first and the cosines of the odd ones after them
    (a block concat, not interleaved), as in the official code.
    """
    idx = torch.arange(channels, device=positions.device)
    power = (2 * (idx // 2)).to(torch.float32) / channels
    angles = 1.0 / torch.pow(10000.0, power)
    radians = positions.to(torch.float32).unsqueeze(-1) * angles
    return torch.cat([torch.sin(radians[..., 0::2]),
                      torch.cos(radians[..., 1::2])], dim=-1)


class PositionalEncoding(nn.Module):
    """Adds ``scale * sine_encoding(frame index)`` to ``[N, C, T, 1, 1]``.

    The learned ``scale`` starts at 0 (ReZero), so a fresh model ignores the
    encoding. Frame indices continue across calls through
    ``{prefix}_pos_enc_frame_count``.
    """

    def __init__(self, state_prefix: str):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(()))
        self.count_name = f'{state_prefix}_pos_enc_frame_count'

    def forward(self, x: Tensor, state: Optional[Mapping[str, Tensor]] = None
                ) -> Tuple[Tensor, StreamState]:
        n, c, t = x.shape[:3]
        count = lookup(state, self.count_name)
        if count is None:
            count = zero_frame_count(x)
        elif count.shape != (n, ):
            raise ValueError(f'state {self.count_name!r} has shape '
                             f'{tuple(count.shape)}, expected ({n},)')
        positions = count.view(n, 1) + torch.arange(t, device=x.device)
        encoding = sine_encoding(positions, c).to(x.dtype)  # [N, T, C]
        encoding = encoding.transpose(1, 2).reshape(n, c, t, 1, 1)
        return x + self.scale * encoding, {self.count_name: count + t}
