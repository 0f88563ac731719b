"""The sine positional encoding of the stream models' squeeze-excitation."""
from typing import Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from .state import StateSpecs, StreamState, frame_count, frame_count_spec


def sine_angles(channels: int) -> Tensor:
    """Channel i's angle, 1 / 10000^(2 (i // 2) / channels), ``[channels]``."""
    idx = torch.arange(channels)
    power = (2 * (idx // 2)).to(torch.float32) / channels
    return 1.0 / torch.pow(10000.0, power)


def encode_positions(positions: Tensor, angles_sin: Tensor,
                     angles_cos: Tensor) -> Tensor:
    """``[..., 1]`` float positions -> ``[..., channels]`` encodings: the sines
    of the even channels first, then the cosines of the odd ones (a block
    concat, not interleaved), as in the official code."""
    return torch.cat([torch.sin(positions * angles_sin),
                      torch.cos(positions * angles_cos)], dim=-1)


def sine_encoding(positions: Tensor, channels: int) -> Tensor:
    """Encodings ``[N, T, channels]`` of integer ``positions`` ``[N, T]``."""
    angles = sine_angles(channels).to(positions.device)
    return encode_positions(positions.to(torch.float32).unsqueeze(-1),
                            angles[0::2], angles[1::2])


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
        count = frame_count(state, self.count_name, x)
        positions = count.view(n, 1) + torch.arange(t, device=x.device)
        encoding = sine_encoding(positions, c).to(x.dtype)  # [N, T, C]
        encoding = encoding.transpose(1, 2).reshape(n, c, t, 1, 1)
        return x + self.scale * encoding, {self.count_name: count + t}

    def state_spec(self, batch_size: int) -> StateSpecs:
        return {self.count_name: frame_count_spec(batch_size)}

    def to_inference(self, channels: int) -> 'InferencePositionalEncoding':
        return InferencePositionalEncoding(self, channels)


class InferencePositionalEncoding(nn.Module):
    """The encoding of pooled ``[T, C, 1, 1]`` frames, angles precomputed."""

    def __init__(self, encoding: PositionalEncoding, channels: int):
        super().__init__()
        angles = sine_angles(channels)
        self.register_buffer('angles_sin', angles[0::2].clone(),
                             persistent=False)
        self.register_buffer('angles_cos', angles[1::2].clone(),
                             persistent=False)
        self.scale = nn.Parameter(encoding.scale.detach().clone(),
                                  requires_grad=False)
        self.count_name = encoding.count_name

    def _add(self, pooled: Tensor, positions: Tensor) -> Tensor:
        radians = positions.to(torch.float32).view(-1, 1)
        encoding = encode_positions(radians, self.angles_sin, self.angles_cos)
        return pooled + self.scale * encoding.view(*pooled.shape)

    def stream(self, pooled: Tensor, state: Mapping[str, Tensor],
               new_state: StreamState) -> Tensor:
        count = state[self.count_name]
        new_state[self.count_name] = count + 1
        return self._add(pooled, count)

    def clip(self, pooled: Tensor) -> Tensor:
        positions = torch.arange(pooled.shape[0], dtype=torch.int64,
                                 device=pooled.device)
        return self._add(pooled, positions)
