"""The MoViNet layer: a mobile inverted bottleneck with a causal-capable SE."""
from typing import Mapping, Optional, Tuple

import torch
from mmcv.cnn.bricks import DropPath
from torch import Tensor, nn

from .conv import DEFAULT_NORM_CFG, ConvBlock, StreamConvBlock
from .pooling import SamePadAvgPool
from .squeeze_excitation import StreamSqueezeExcitation, se_hidden_channels
from .state import StreamState


class SkipBlock(nn.Module):
    """Residual path when the shape changes: [3x3/2 avg pool] + 1x1 conv + BN."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool,
                 conv_type: str, norm_cfg: dict):
        super().__init__()
        self.pool = SamePadAvgPool() if downsample else None
        self.projection = ConvBlock(in_channels, out_channels, 1,
                                    conv_type=conv_type, norm_cfg=norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        if self.pool is not None:
            x = self.pool(x)
        return self.projection(x)


class MovinetBottleneck(nn.Module):
    """expansion -> depthwise (stream) conv -> SE -> projection, ReZero residual.

    ``out = skip(x) + drop_path(rezero * projection(...))``; the expansion
    conv exists even when it keeps the channel count (as in the official
    models), the projection has BN but no activation, and nothing follows the
    sum.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 expand_channels: int,
                 kernel_size: Tuple[int, int, int],
                 stride: Tuple[int, int, int],
                 causal: bool = False,
                 conv_type: str = '3d',
                 se_type: str = '3d',
                 act: str = 'swish',
                 gating_act: str = 'sigmoid',
                 use_positional_encoding: bool = False,
                 drop_path_rate: float = 0.0,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 state_prefix: str = 'state'):
        super().__init__()
        self.expansion = ConvBlock(in_channels, expand_channels, 1,
                                   conv_type=conv_type, norm_cfg=norm_cfg,
                                   act=act)
        self.feature = StreamConvBlock(
            expand_channels, expand_channels, kernel_size, stride,
            depthwise=True, conv_type=conv_type, causal=causal,
            norm_cfg=norm_cfg, act=act, state_prefix=state_prefix)
        self.se = None
        if se_type != 'none':
            self.se = StreamSqueezeExcitation(
                expand_channels,
                se_hidden_channels(expand_channels, se_type),
                se_type=se_type,
                causal=causal,
                conv_type=conv_type,
                act=act,
                gating_act=gating_act,
                use_positional_encoding=use_positional_encoding,
                state_prefix=state_prefix)
        self.projection = ConvBlock(expand_channels, out_channels, 1,
                                    conv_type=conv_type, norm_cfg=norm_cfg)
        self.rezero = nn.Parameter(torch.zeros(()))
        self.drop_path = (DropPath(drop_path_rate)
                          if drop_path_rate > 0 else nn.Identity())
        downsample = any(s > 1 for s in stride)
        self.skip = None
        if downsample or in_channels != out_channels:
            self.skip = SkipBlock(in_channels, out_channels, downsample,
                                  conv_type, norm_cfg)

    def forward(self, x: Tensor, state: Optional[Mapping[str, Tensor]] = None
                ) -> Tuple[Tensor, StreamState]:
        out = self.expansion(x)
        out, new_state = self.feature(out, state)
        if self.se is not None:
            out, se_state = self.se(out, state)
            new_state.update(se_state)
        out = self.drop_path(self.rezero * self.projection(out))
        shortcut = x if self.skip is None else self.skip(x)
        return shortcut + out, new_state
