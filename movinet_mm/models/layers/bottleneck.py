"""The MoViNet layer: a mobile inverted bottleneck with a causal-capable SE."""
from typing import Mapping, Optional, Tuple

import torch
from mmcv.cnn.bricks import DropPath
from torch import Tensor, nn

from .conv import DEFAULT_NORM_CFG, ConvBlock, StreamConvBlock
from .pooling import SamePadAvgPool
from .squeeze_excitation import StreamSqueezeExcitation, se_hidden_channels
from .state import StateSpecs, StreamState


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

    def to_inference(self, size: Tuple[int, int]) -> nn.Sequential:
        pool = None
        if self.pool is not None:
            pool, size = self.pool.to_inference(
                size, self.projection.conv.in_channels)
        projection, _ = self.projection.to_inference(size)
        return nn.Sequential(*([pool] if pool is not None else []),
                             projection)


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

    def state_spec(self, batch_size: int,
                   frame_size: Tuple[int, int]) -> StateSpecs:
        """The state of this layer for input frames of ``frame_size``."""
        spec = self.feature.state_spec(batch_size, frame_size)
        if self.se is not None:
            spec.update(self.se.state_spec(batch_size))
        return spec

    def output_size(self, size: Tuple[int, int]) -> Tuple[int, int]:
        return self.feature.output_size(size)

    def to_inference(self, size: Tuple[int, int]
                     ) -> Tuple['InferenceBottleneck', Tuple[int, int]]:
        """The inference form at input ``size`` and its output size."""
        expansion, _ = self.expansion.to_inference(size)
        feature, out = self.feature.to_inference(size)
        se = self.se.to_inference() if self.se is not None else None
        # ReZero folds into the projection; drop path is gone at inference
        projection, _ = self.projection.to_inference(
            out, float(self.rezero.detach()))
        skip = self.skip.to_inference(size) if self.skip is not None else None
        return InferenceBottleneck(expansion, feature, se, projection,
                                   skip), out


class InferenceBottleneck(nn.Module):
    """:class:`MovinetBottleneck` on ``[T, C, H, W]`` frames."""

    def __init__(self, expansion: nn.Module, feature: nn.Module,
                 se: Optional[nn.Module], projection: nn.Module,
                 skip: Optional[nn.Module]):
        super().__init__()
        self.expansion = expansion
        self.feature = feature
        self.se = se
        self.projection = projection
        self.skip = skip

    def _shortcut(self, x: Tensor) -> Tensor:
        return x if self.skip is None else self.skip(x)

    def stream(self, x: Tensor, state: Mapping[str, Tensor],
               new_state: StreamState) -> Tensor:
        out = self.feature.stream(self.expansion(x), state, new_state)
        if self.se is not None:
            out = self.se.stream(out, state, new_state)
        return self._shortcut(x) + self.projection(out)

    def clip(self, x: Tensor) -> Tensor:
        out = self.feature.clip(self.expansion(x))
        if self.se is not None:
            out = self.se.clip(out)
        return self._shortcut(x) + self.projection(out)
