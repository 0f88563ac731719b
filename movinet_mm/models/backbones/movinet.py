"""The MoViNet backbone (A0-A5, T0), base (3D) and stream (causal (2+1)D)."""
import math
from typing import Dict, Mapping, Optional, Tuple, Union

import torch.utils.checkpoint as cp
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import CONV_TYPES, SE_TYPES, ConvBlock, MovinetBottleneck, StreamState
from ..layers.activations import ACTIVATION_NAMES
from ..layers.conv import DEFAULT_NORM_CFG
from ..layers.state import StateSpecs, autocast_enabled, check_state
from .movinet_arch import ARCH_SPECS, MIN_FRAME_SIZE, STEM_KERNEL, STEM_STRIDE, ArchSpec
from .movinet_arch import arch_from_dict as _arch_from_dict

StateShapes = Dict[str, Tuple[int, ...]]


@MODELS.register_module()
class MoViNet(BaseModule):
    """MoViNet backbone (Kondratyuk et al., CVPR 2021).

    Returns per-frame features ``[N, project_channels, T, H/32, W/32]``, the
    output of the official backbone's head projection before its pooling;
    the pooling (a running mean over all frames seen) belongs to
    :class:`MoViNetHead`.

    Args:
        arch (str | dict | ArchSpec): 'a0'-'a5' or 't0', or a custom table
            (a dict with ``stem_channels``, ``blocks`` = [dict(out_channels,
            layers=[(expand, (kt, kh, kw), (1, sh, sw)), ...])],
            ``project_channels``, ``head_channels``).
        causal (bool): causal temporal convs and SE, streamable with a state.
            False gives the base (non-causal) models.
        conv_type (str): '3d' (base), '3d_2plus1d' (stream, for training) or
            '2plus1d' (stream, for inference; the same weights, see
            ``movinet_mm.models.convert_conv_type``).
        se_type (str): '3d' (base), '2plus3d' (stream), '2d' or 'none'.
        activation (str): 'swish' (base) or 'hard_swish' (stream).
        gating_activation (str): SE gate, 'sigmoid' (base) or 'hard_sigmoid'.
        use_positional_encoding (bool): sine positional encoding in the SE
            (A3-A5 stream); only with ``causal=True``.
        drop_path_rate (float): stochastic depth; layer n of N drops with
            ``rate * n / N``.
        norm_cfg (dict): BN with TF's eps 1e-3 and momentum 0.99 by default.
        in_channels (int): input channels.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also freezes the first k blocks.
        norm_eval (bool): keep BN layers in eval mode while training.
        with_cp (bool): gradient checkpointing of each layer (saves memory).
        init_cfg (dict, optional): MMEngine init config.
    """

    arch_settings = ARCH_SPECS
    min_input_size = MIN_FRAME_SIZE

    def __init__(self,
                 arch: Union[str, dict, ArchSpec] = 'a0',
                 causal: bool = False,
                 conv_type: str = '3d',
                 se_type: str = '3d',
                 activation: str = 'swish',
                 gating_activation: str = 'sigmoid',
                 use_positional_encoding: bool = False,
                 drop_path_rate: float = 0.0,
                 norm_cfg: dict = DEFAULT_NORM_CFG,
                 in_channels: int = 3,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ValueError(f'unknown MoViNet arch {arch!r}; expected '
                                 f'one of {sorted(self.arch_settings)} or a '
                                 'custom table (dict)')
            arch = self.arch_settings[arch]
        elif isinstance(arch, dict):
            arch = _arch_from_dict(arch)
        elif not isinstance(arch, ArchSpec):
            raise TypeError(f'arch must be a str, dict or ArchSpec, got '
                            f'{type(arch).__name__}')
        if conv_type not in CONV_TYPES:
            raise ValueError(f'unknown conv_type {conv_type!r}; expected one '
                             f'of {CONV_TYPES}')
        if se_type not in SE_TYPES:
            raise ValueError(f'unknown se_type {se_type!r}; expected one of '
                             f'{SE_TYPES}')
        for name, value in (('activation', activation),
                            ('gating_activation', gating_activation)):
            if value not in ACTIVATION_NAMES:
                raise ValueError(f'unknown {name} {value!r}; expected one of '
                                 f'{ACTIVATION_NAMES}')
        if use_positional_encoding and not causal:
            raise ValueError('use_positional_encoding needs causal=True (the '
                             'official models use it only when streaming)')
        if use_positional_encoding and se_type in ('none', '3d'):
            raise ValueError("use_positional_encoding needs se_type '2d' or "
                             "'2plus3d'")
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(f'drop_path_rate must be in [0, 1), got '
                             f'{drop_path_rate}')
        self.arch = arch
        self.causal = causal
        self.conv_type = conv_type
        self.se_type = se_type
        self.use_positional_encoding = use_positional_encoding
        self.in_channels = in_channels
        self.out_channels = arch.project_channels
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp

        self.stem = ConvBlock(in_channels, arch.stem_channels, STEM_KERNEL,
                              STEM_STRIDE, conv_type=conv_type,
                              norm_cfg=norm_cfg, act=activation)
        self.blocks = nn.ModuleList()
        channels = arch.stem_channels
        depth = 0
        for i, block in enumerate(arch.blocks):
            layers = nn.ModuleList()
            for j, layer in enumerate(block.layers):
                depth += 1
                layers.append(
                    MovinetBottleneck(
                        channels,
                        block.out_channels,
                        layer.expand_channels,
                        layer.kernel_size,
                        layer.stride,
                        causal=causal,
                        conv_type=conv_type,
                        se_type=se_type,
                        act=activation,
                        gating_act=gating_activation,
                        use_positional_encoding=use_positional_encoding,
                        drop_path_rate=drop_path_rate * depth /
                        arch.num_layers,
                        norm_cfg=norm_cfg,
                        state_prefix=f'state_block{i}_layer{j}'))
                channels = block.out_channels
            self.blocks.append(layers)
        self.project = ConvBlock(channels, arch.project_channels, 1,
                                 conv_type=conv_type, norm_cfg=norm_cfg,
                                 act=activation)
        self._freeze_stages()

    # ----------------------------------------------------------- streaming
    def state_spec(self, batch_size: int,
                   frame_size: Tuple[int, int]) -> StateSpecs:
        """The stream state for frames of ``frame_size``, layer by layer."""
        spec: StateSpecs = {}
        if not self.causal:
            return spec
        size = self.stem.output_size(tuple(frame_size))
        for layer in self.layers():
            spec.update(layer.state_spec(batch_size, size))
            size = layer.output_size(size)
        return spec

    def state_shapes(self, batch_size: int,
                     frame_size: Tuple[int, int]) -> StateShapes:
        """Names and shapes of the stream state for frames of ``frame_size``."""
        return {name: spec.shape for name, spec in
                self.state_spec(batch_size, frame_size).items()}

    def layers(self):
        """The bottleneck layers in model order."""
        for block in self.blocks:
            yield from block

    def check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor) or x.dim() != 5:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
            raise ValueError('MoViNet expects a 5-D float tensor [N, C, T, '
                             f'H, W], got {shape}')
        n, c, t, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f'MoViNet expects {self.in_channels} channels '
                             f'in dim 1 of [N, C, T, H, W], got shape '
                             f'{tuple(x.shape)}')
        if t < 1 or n < 1:
            raise ValueError(f'empty input of shape {tuple(x.shape)}')
        if min(h, w) < self.min_input_size:
            raise ValueError(f'frames of {h}x{w} are too small: MoViNet '
                             'needs at least '
                             f'{self.min_input_size}x{self.min_input_size}')
        if not x.is_floating_point():
            raise ValueError(f'MoViNet expects a float tensor, got {x.dtype}'
                             ' (preprocess uint8 frames first)')
        weight = self.stem.conv.weight
        if x.dtype != weight.dtype and not autocast_enabled(x.device.type):
            raise ValueError(
                f'the input is {x.dtype} but the model is {weight.dtype}: '
                f'cast one to the other (x.to({weight.dtype}) or '
                f'model.to({x.dtype})), or run under torch.autocast')

    def _run(self, x: Tensor, state: Optional[Mapping[str, Tensor]]
             ) -> Tuple[Tensor, StreamState]:
        new_state: StreamState = {}
        x = self.stem(x)
        for layers in self.blocks:
            for layer in layers:
                if self.with_cp and x.requires_grad:
                    x, layer_state = cp.checkpoint(
                        layer, x, state, use_reentrant=False)
                else:
                    x, layer_state = layer(x, state)
                new_state.update(layer_state)
        return self.project(x), new_state

    def forward(self, x: Tensor) -> Tensor:
        """Features of a whole clip; nothing is kept between calls."""
        self.check_input(x)
        return self._run(x, None)[0]

    def forward_stream(self, x: Tensor,
                       state: Optional[Mapping[str, Tensor]] = None
                       ) -> Tuple[Tensor, StreamState]:
        """Features of the next frames ``x`` of streams, and the next state.

        ``state=None`` starts new streams (equivalent to zero state). The
        result for frames t0..t1 equals that of a whole-clip forward up to
        t1, restricted to those frames.
        """
        if not self.causal:
            raise RuntimeError('streaming needs a causal MoViNet '
                               '(causal=True); base models see whole clips')
        self.check_input(x)
        if state is not None:
            check_state(state, self.state_shapes(x.shape[0], x.shape[-2:]),
                        'backbone', like=x)
        return self._run(x, state)

    # ------------------------------------------------------------ training
    def init_weights(self) -> None:
        if self.init_cfg is not None:
            super().init_weights()
            return
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d)):
                he_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, _BatchNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.stem] + list(self.blocks[:self.frozen_stages])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'MoViNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


def he_normal_(weight: Tensor) -> Tensor:
    """Keras' HeNormal: truncated normal (2 std) with std sqrt(2 / fan_in)."""
    fan_in = weight.shape[1] * weight[0][0].numel()
    # 0.8796... is the std of a unit normal truncated at 2 std, which Keras
    # divides out so that the truncated samples have the intended std.
    std = math.sqrt(2.0 / fan_in) / 0.87962566103423978
    return nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)
