"""The weight-sharing supernet of the MoViNet space (TuNAS-style).

One network holds the largest weights of every choice; a sampled
architecture runs on slices of them:

- **widths are prefixes**: a layer of ``c`` channels uses filters ``[:c]``
  (and input channels ``[:c_in]``) of the widest layer, BN included;
- **each kernel choice has its own depthwise weights** (and BN), not nested
  centre crops of one big kernel: the 7 kernels differ in kind (spatial
  1xkxk, temporal kx1x1, spatiotemporal), a crop would tie the temporal-only
  5x1x1 to the centre column of a spatial kernel and the factorised (2+1)D
  form of 5x3x3 has no common superset with 1x7x7; separate weights are what
  TuNAS does for its kernel choices, and depthwise weights are small
  (e x kt kh kw), the 1x1 expansion / projection / SE convs that dominate
  the parameters are shared across kernels;
- **depth by skipping trailing layers** of a block;
- the skip 1x1 conv of a block's first layer is used when the sampled widths
  need it (the 4th block does not stride and may keep its width);
- TuNAS's warm-ups: ``ops='all'`` runs every kernel of a layer and sums
  them (op warm-up); the search loop forces the widest filters (filter
  warm-up).

``export(architecture)`` gives the state_dict of the ``MoViNetRecognizer``
that :func:`recognizer_cfg` describes: any fixed choice is exactly that
standalone network (``tests/search/test_supernet.py``), which is what makes
weight sharing sound. ``conv_type`` '3d' (base) or '3d_2plus1d' (causal, the
official stream models' training form; ``convert_conv_type`` turns the
exported weights into '2plus1d').
"""
from typing import Dict, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModel
from torch import Tensor, nn

from movinet_mm.models.backbones.movinet import he_normal_
from movinet_mm.models.backbones.movinet_arch import backbone_settings
from movinet_mm.models.heads.movinet_head import init_head_weights
from movinet_mm.models.layers.activations import build_activation
from movinet_mm.models.layers.conv import conv_frames, conv_time, pad_strided
from movinet_mm.models.layers.pooling import GlobalAvgPool, SamePadAvgPool
from movinet_mm.models.layers.squeeze_excitation import se_hidden_channels, squeeze
from movinet_mm.models.layers.stream_buffer import causal_pad

from .space import Architecture, SearchSpace, arch_to_dict, round_width

SUPPORTED_CONV_TYPES = ('3d', '3d_2plus1d')
SUPPORTED_SE_TYPES = ('3d', '2d', '2plus3d', 'none')
KERNEL_SHARING = ('separate', 'nested')


def kernel_key(kernel: Sequence[int]) -> str:
    return 'k' + ''.join(str(int(k)) for k in kernel)


def network_defaults(causal: bool) -> dict:
    """The official base / stream settings."""
    return backbone_settings(None, causal)


def recognizer_cfg(arch, num_classes: int, network: Mapping,
                   norm_cfg: Optional[dict] = None,
                   dropout_ratio: float = 0.2,
                   label_smooth_eps: float = 0.0) -> dict:
    """The ``MoViNetRecognizer`` config of an architecture (``ArchSpec`` or
    :class:`Architecture`) with the supernet's ``network`` settings."""
    if isinstance(arch, Architecture):
        arch = arch.arch
    backbone = dict(type='MoViNet', arch=arch_to_dict(arch),
                    causal=network['causal'],
                    conv_type=network['conv_type'],
                    se_type=network['se_type'],
                    activation=network['activation'],
                    gating_activation=network['gating_activation'],
                    drop_path_rate=0.0,
                    norm_cfg=dict(type='BN3d', **_bn_args(norm_cfg)))
    return dict(
        type='MoViNetRecognizer',
        backbone=backbone,
        cls_head=dict(type='MoViNetHead', num_classes=num_classes,
                      in_channels=arch.project_channels,
                      hidden_channels=arch.head_channels,
                      dropout_ratio=dropout_ratio,
                      label_smooth_eps=label_smooth_eps,
                      average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               mean=[0., 0., 0.], std=[255., 255., 255.],
                               format_shape='NCTHW'))


def _bn_args(norm_cfg: Optional[dict]) -> dict:
    cfg = dict(norm_cfg or {})
    cfg.pop('type', None)
    return dict(eps=cfg.pop('eps', 1e-3), momentum=cfg.pop('momentum', 0.01))


# ----------------------------------------------------------------- layers
class SlicedBN(nn.Module):
    """BatchNorm over a channel prefix of the widest layer.

    ``track=True`` (training) uses and updates the statistics of the prefix;
    ``track=False`` with ``self.training`` uses batch statistics and leaves
    the running ones alone (the controller's held-out batches).
    """

    def __init__(self, channels: int, eps: float, momentum: float):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer('running_mean', torch.zeros(channels))
        self.register_buffer('running_var', torch.ones(channels))
        self.track = True

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        stats = not self.training or self.track
        return F.batch_norm(
            x, self.running_mean[:c] if stats else None,
            self.running_var[:c] if stats else None, self.weight[:c],
            self.bias[:c], self.training, self.momentum, self.eps)

    def export(self, prefix: str, c: int) -> Dict[str, Tensor]:
        return {f'{prefix}weight': self.weight[:c],
                f'{prefix}bias': self.bias[:c],
                f'{prefix}running_mean': self.running_mean[:c],
                f'{prefix}running_var': self.running_var[:c],
                f'{prefix}num_batches_tracked': torch.tensor(0)}


def _conv(x: Tensor, w: Tensor, b: Optional[Tensor], stride, padding,
          groups: int) -> Tensor:
    """A conv3d, run as the equivalent conv2d when the kernel is spatial,
    temporal or pointwise (the '2plus1d' forms: about twice as fast on CPU
    for depthwise kernels)."""
    kt, kh, kw = w.shape[2:]
    if kt == 1 and stride[0] == 1:  # per frame (pointwise included)
        return conv_frames(x, w[:, :, 0], b, stride[1:], padding[1:], groups)
    if kh == kw == 1 and tuple(stride) == (1, 1, 1):  # along time
        return conv_time(x, w[..., 0], b, (padding[0], 0), groups)
    return F.conv3d(x, w, b, stride, padding, groups=groups)


def crop_kernel(weight: Tensor, kernel: Sequence[int], causal: bool) -> Tensor:
    """The (kt, kh, kw) kernel nested in a larger one: its spatial centre and,
    in time, the centre (or, causal, the last ``kt`` taps: the frames
    nearest the output)."""
    kt, kh, kw = kernel
    big_t, big_h, big_w = weight.shape[2:]
    if kt > big_t or kh > big_h or kw > big_w:
        raise ValueError(f'kernel {tuple(kernel)} is not nested in '
                         f'{(big_t, big_h, big_w)}')
    t0 = big_t - kt if causal else (big_t - kt) // 2
    h0, w0 = (big_h - kh) // 2, (big_w - kw) // 2
    return weight[:, :, t0:t0 + kt, h0:h0 + kh, w0:w0 + kw]


class SlicedConv(nn.Module):
    """A conv (+ BN + act) of the widest layer run on a prefix of it, with
    the padding of ``ConvBlock``: TF 'SAME' in space, symmetric or causal
    (``kt - 1`` zero frames before, as a fresh stream buffer) in time."""

    def __init__(self, in_max: int, out_max: int, kernel: Sequence[int],
                 stride: Sequence[int] = (1, 1, 1), depthwise: bool = False,
                 causal: bool = False, bias: bool = False,
                 bn: Optional[dict] = None, act: Optional[str] = None):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)
        self.depthwise, self.causal = depthwise, causal
        self.weight = nn.Parameter(
            torch.empty(out_max, 1 if depthwise else in_max, *self.kernel))
        he_normal_(self.weight)
        self.bias = nn.Parameter(torch.zeros(out_max)) if bias else None
        self.bn = SlicedBN(out_max, **bn) if bn is not None else None
        self.act = build_activation(act) if act else None

    def _weights(self, c_out: int, c_in: int, kernel=None):
        w = self.weight[:c_out] if self.depthwise else \
            self.weight[:c_out, :c_in]
        if kernel is not None and tuple(kernel) != self.kernel:
            w = crop_kernel(w, kernel, self.causal)
        return w, (self.bias[:c_out] if self.bias is not None else None)

    def forward(self, x: Tensor, c_out: int, kernel=None) -> Tensor:
        """``kernel``: a smaller kernel nested in this one (its crop)."""
        kt, kh, kw = self.kernel if kernel is None else kernel
        _, sh, sw = self.stride
        if self.causal and kt > 1:
            x = causal_pad(x, kt - 1)
        x = pad_strided(x, (kh, kw), (sh, sw))
        padding = (0 if self.causal else (kt - 1) // 2,
                   (kh - 1) // 2 if sh == 1 else 0,
                   (kw - 1) // 2 if sw == 1 else 0)
        w, b = self._weights(c_out, x.shape[1], kernel)
        x = _conv(x, w, b, self.stride, padding,
                  c_out if self.depthwise else 1)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x) if self.act is not None else x

    def export(self, prefix: str, c_out: int, c_in: int,
               kernel=None) -> Dict[str, Tensor]:
        w, b = self._weights(c_out, c_in, kernel)
        out = {f'{prefix}conv.weight': w}
        if b is not None:
            out[f'{prefix}conv.bias'] = b
        if self.bn is not None:
            out.update(self.bn.export(f'{prefix}bn.', c_out))
        return out


class SharedDepthwise(nn.Module):
    """One kernel choice of a layer: ``StreamConvBlock``'s conv(s)."""

    def __init__(self, channels: int, kernel, stride, causal: bool,
                 conv_type: str, bn: dict, act: str):
        super().__init__()
        kt, kh, kw = kernel
        self.factorised = conv_type != '3d' and kt > 1
        if self.factorised:
            self.conv = SlicedConv(channels, channels, (1, kh, kw), stride,
                                   True, causal, bn=bn, act=act)
            self.conv_temporal = SlicedConv(channels, channels, (kt, 1, 1),
                                            (1, 1, 1), True, causal, bn=bn,
                                            act=act)
        else:
            self.conv = SlicedConv(channels, channels, kernel, stride, True,
                                   causal, bn=bn, act=act)
            self.conv_temporal = None

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        x = self.conv(x, c)
        return self.conv_temporal(x, c) if self.factorised else x

    def export(self, prefix: str, c: int) -> Dict[str, Tensor]:
        out = self.conv.export(f'{prefix}conv.', c, c)
        if self.factorised:
            out.update(self.conv_temporal.export(f'{prefix}conv_temporal.', c,
                                                 c))
        return out


class NestedDepthwise(nn.Module):
    """Every kernel choice of a layer as a crop of one largest kernel (as
    OFA's elastic kernels): each step trains the weights every choice uses,
    where separate weights see ~1/len(kernels) of the steps. Each choice
    keeps its own BN (the statistics of a 3x3 and a 7x7 crop differ).

    Factorised ('3d_2plus1d'): a (1, K, K) spatial kernel, the crop's centre
    for every choice (a temporal-only kt x 1 x 1 kernel uses its centre tap,
    the standalone's 1x1 depthwise conv), and a (Kt, 1, 1) temporal one (the
    last kt taps when causal). '3d': one (Kt, K, K) kernel, centre crops.
    """

    def __init__(self, channels: int, kernels, stride, causal: bool,
                 conv_type: str, bn: dict, act: str):
        super().__init__()
        kernels = [tuple(k) for k in kernels]
        big_t = max(k[0] for k in kernels)
        big_h = max(k[1] for k in kernels)
        big_w = max(k[2] for k in kernels)
        self.factorised = conv_type != '3d'
        if self.factorised:
            self.conv = SlicedConv(channels, channels, (1, big_h, big_w),
                                   stride, True, causal)
            self.conv_temporal = SlicedConv(
                channels, channels, (big_t, 1, 1), (1, 1, 1), True,
                causal) if big_t > 1 else None
        else:
            self.conv = SlicedConv(channels, channels, (big_t, big_h, big_w),
                                   stride, True, causal)
            self.conv_temporal = None
        self.bn = nn.ModuleDict({kernel_key(k): SlicedBN(channels, **bn)
                                 for k in kernels})
        self.bn_temporal = nn.ModuleDict({
            kernel_key(k): SlicedBN(channels, **bn)
            for k in kernels if self.factorised and k[0] > 1})
        self.act = build_activation(act)

    def _parts(self, kernel):
        """(spatial kernel, temporal kernel or None) of a choice."""
        kt, kh, kw = kernel
        if not self.factorised:
            return (kt, kh, kw), None
        return (1, kh, kw), ((kt, 1, 1) if kt > 1 else None)

    def forward(self, x: Tensor, kernel) -> Tensor:
        key, c = kernel_key(kernel), x.shape[1]
        spatial, temporal = self._parts(kernel)
        x = self.act(self.bn[key](self.conv(x, c, spatial)))
        if temporal is not None:
            x = self.act(self.bn_temporal[key](
                self.conv_temporal(x, c, temporal)))
        return x

    def export(self, prefix: str, c: int, kernel) -> Dict[str, Tensor]:
        key = kernel_key(kernel)
        spatial, temporal = self._parts(kernel)
        out = self.conv.export(f'{prefix}conv.', c, c, spatial)
        out.update(self.bn[key].export(f'{prefix}conv.bn.', c))
        if temporal is not None:
            out.update(self.conv_temporal.export(f'{prefix}conv_temporal.',
                                                 c, c, temporal))
            out.update(self.bn_temporal[key].export(
                f'{prefix}conv_temporal.bn.', c))
        return out


class SharedSE(nn.Module):
    """``StreamSqueezeExcitation`` on a prefix of ``e`` channels."""

    def __init__(self, e_max: int, se_type: str, causal: bool, act: str,
                 gating_act: str, hidden_of):
        super().__init__()
        self.se_type, self.causal, self.e_max = se_type, causal, e_max
        self.hidden_of = hidden_of
        hid_max = hidden_of(e_max)
        squeezed = e_max * (2 if se_type == '2plus3d' else 1)
        self.reduce = SlicedConv(squeezed, hid_max, (1, 1, 1), bias=True,
                                 act=act)
        self.expand = SlicedConv(hid_max, e_max, (1, 1, 1), bias=True,
                                 act=gating_act)
        self.pool = GlobalAvgPool(causal, 'search')

    def _reduce_weights(self, e: int):
        hid = self.hidden_of(e)
        w, b = self.reduce.weight[:hid], self.reduce.bias[:hid]
        if self.se_type == '2plus3d':  # [pooled e_max | frames e_max]
            w = torch.cat([w[:, :e], w[:, self.e_max:self.e_max + e]], 1)
        else:
            w = w[:, :e]
        return w, b

    def forward(self, x: Tensor) -> Tensor:
        e = x.shape[1]
        pooled, _ = squeeze(x, self.se_type, self.causal, self.pool)
        w, b = self._reduce_weights(e)
        hidden = self.reduce.act(F.conv3d(pooled, w, b))
        return x * self.expand(hidden, e)

    def export(self, prefix: str, e: int) -> Dict[str, Tensor]:
        hid = self.hidden_of(e)
        w, b = self._reduce_weights(e)
        out = {f'{prefix}se_reduce.conv.weight': w,
               f'{prefix}se_reduce.conv.bias': b}
        out.update(self.expand.export(f'{prefix}se_expand.', e, hid))
        return out


class SharedLayer(nn.Module):
    """``MovinetBottleneck`` with every kernel choice and the widest widths."""

    def __init__(self, in_max: int, out_max: int, e_max: int, kernels,
                 stride, first: bool, net: dict, bn: dict, hidden_of,
                 kernel_sharing: str = 'separate'):
        super().__init__()
        causal, conv_type = net['causal'], net['conv_type']
        act = net['activation']
        self.stride = tuple(stride)
        self.downsample = any(s > 1 for s in stride)
        self.expansion = SlicedConv(in_max, e_max, (1, 1, 1), bn=bn, act=act)
        self.kernels = [tuple(k) for k in kernels]
        if kernel_sharing == 'nested':
            self.nested = NestedDepthwise(e_max, kernels, stride, causal,
                                          conv_type, bn, act)
            self.features = None
        else:
            self.nested = None
            self.features = nn.ModuleDict({
                kernel_key(k): SharedDepthwise(e_max, k, stride, causal,
                                               conv_type, bn, act)
                for k in kernels})
        self.se = (SharedSE(e_max, net['se_type'], causal, act,
                            net['gating_activation'], hidden_of)
                   if net['se_type'] != 'none' else None)
        self.projection = SlicedConv(e_max, out_max, (1, 1, 1), bn=bn)
        self.rezero = nn.Parameter(torch.zeros(()))
        # only a block's first layer can change the width or stride
        self.skip = SlicedConv(in_max, out_max, (1, 1, 1), bn=bn) \
            if first else None
        self.pool = SamePadAvgPool() if self.downsample else None

    def depthwise(self, x: Tensor, kernel) -> Tensor:
        if self.nested is not None:
            return self.nested(x, kernel)
        return self.features[kernel_key(kernel)](x)

    def needs_skip(self, c_in: int, c_out: int) -> bool:
        return self.downsample or c_in != c_out

    def forward(self, x: Tensor, c_out: int, expand: int,
                kernel: Optional[Sequence[int]]) -> Tensor:
        out = self.expansion(x, expand)
        if kernel is None:  # op warm-up: every kernel on, summed
            out = sum(self.depthwise(out, k) for k in self.kernels)
        else:
            out = self.depthwise(out, kernel)
        if self.se is not None:
            out = self.se(out)
        out = self.rezero * self.projection(out, c_out)
        if self.needs_skip(x.shape[1], c_out):
            shortcut = self.pool(x) if self.pool is not None else x
            shortcut = self.skip(shortcut, c_out)
        else:
            shortcut = x
        return shortcut + out

    def export(self, prefix: str, c_in: int, c_out: int, expand: int,
               kernel) -> Dict[str, Tensor]:
        out = {f'{prefix}rezero': self.rezero}
        out.update(self.expansion.export(f'{prefix}expansion.', expand, c_in))
        if self.nested is not None:
            out.update(self.nested.export(f'{prefix}feature.', expand,
                                          kernel))
        else:
            out.update(self.features[kernel_key(kernel)].export(
                f'{prefix}feature.', expand))
        if self.se is not None:
            out.update(self.se.export(f'{prefix}se.', expand))
        out.update(self.projection.export(f'{prefix}projection.', c_out,
                                          expand))
        if self.needs_skip(c_in, c_out):
            out.update(self.skip.export(f'{prefix}skip.projection.', c_out,
                                        c_in))
        return out


# --------------------------------------------------------------- supernet
@MODELS.register_module()
class MoViNetSupernet(BaseModel):
    """All networks of a :class:`SearchSpace`, sharing one set of weights.

    Set the network to run with :meth:`set_architecture` (an
    :class:`Architecture`, or ``ops='all'`` for the op warm-up); then
    ``forward`` / ``train_step`` are MMEngine's, so the runner, DDP and the
    optimizer wrappers work unchanged. The input ``[N, (clips,) C, T, H, W]``
    is cut to the architecture's frames (every ``frame_stride``-th from the
    first) and resized to its resolution.

    Args:
        space (dict | SearchSpace): the search space.
        num_classes (int): classes.
        causal (bool): causal (stream) networks; the other network settings
            default to the official base / stream ones
            (:func:`network_defaults`).
        conv_type, se_type, activation, gating_activation: as ``MoViNet``.
        norm_cfg (dict): BN eps and momentum.
        dropout_ratio, label_smooth_eps (float): the head's.
        kernel_sharing (str): 'separate' depthwise weights per kernel
            choice, or 'nested': every choice a crop of the layer's largest
            kernel (:class:`NestedDepthwise`).
    """

    def __init__(self,
                 space=None,
                 num_classes: int = 600,
                 causal: bool = False,
                 conv_type: Optional[str] = None,
                 se_type: Optional[str] = None,
                 activation: Optional[str] = None,
                 gating_activation: Optional[str] = None,
                 norm_cfg: Optional[dict] = None,
                 dropout_ratio: float = 0.2,
                 label_smooth_eps: float = 0.0,
                 kernel_sharing: str = 'separate',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='ActionDataPreprocessor',
                                     mean=[0., 0., 0.],
                                     std=[255., 255., 255.],
                                     format_shape='NCTHW')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.space = space if isinstance(space, SearchSpace) else \
            SearchSpace.from_dict(space)
        net = network_defaults(causal)
        for key, value in (('conv_type', conv_type), ('se_type', se_type),
                           ('activation', activation),
                           ('gating_activation', gating_activation)):
            if value is not None:
                net[key] = value
        if net['conv_type'] not in SUPPORTED_CONV_TYPES:
            raise ValueError(f"the supernet's conv_type must be one of "
                             f"{SUPPORTED_CONV_TYPES} (convert '3d_2plus1d' "
                             "weights to '2plus1d' with convert_conv_type), "
                             f"got {net['conv_type']!r}")
        if net['se_type'] not in SUPPORTED_SE_TYPES:
            raise ValueError(f'unknown se_type {net["se_type"]!r}; expected '
                             f'one of {SUPPORTED_SE_TYPES}')
        if kernel_sharing not in KERNEL_SHARING:
            raise ValueError(f'kernel_sharing must be one of '
                             f'{KERNEL_SHARING}, got {kernel_sharing!r}')
        self.kernel_sharing = kernel_sharing
        self.network = net
        self.num_classes = num_classes
        self.norm_cfg = dict(type='BN3d', **_bn_args(norm_cfg))
        self.dropout_ratio = dropout_ratio
        self.label_smooth_eps = label_smooth_eps
        bn = _bn_args(norm_cfg)
        space = self.space
        se_type = net['se_type']

        def hidden_of(e):
            return se_hidden_channels(e, se_type)

        def widest(base):
            return max(round_width(base * m) for m in space.width_multipliers)

        self.stem = SlicedConv(3, widest(space.stem_base), (1, 3, 3),
                               (1, 2, 2), bn=bn, act=net['activation'])
        self.blocks = nn.ModuleList()
        c_in = widest(space.stem_base)
        for i, base in enumerate(space.block_bases):
            c_out = widest(base)
            e_max = max(round_width(r * round_width(base * m))
                        for r in space.expansion_ratios
                        for m in space.width_multipliers)
            # hidden widths must be prefixes of the widest one
            assert all(hidden_of(e) <= hidden_of(e_max)
                       for e in range(8, e_max + 1, 8))
            layers = nn.ModuleList()
            for j in range(max(space.depths)):
                stride = space.block_strides[i] if j == 0 else (1, 1, 1)
                layers.append(SharedLayer(c_in if j == 0 else c_out, c_out,
                                          e_max, space.kernels, stride,
                                          j == 0, net, bn, hidden_of,
                                          kernel_sharing))
            self.blocks.append(layers)
            c_in = c_out
        self.project = SlicedConv(c_in, widest(space.project_base),
                                  (1, 1, 1), bn=bn, act=net['activation'])
        self.fc_hidden = nn.Linear(widest(space.project_base),
                                   space.head_channels)
        self.head_act = build_activation('swish')
        self.fc_cls = nn.Linear(space.head_channels, num_classes)
        self._init_head()
        self.architecture: Optional[Architecture] = None
        self.all_ops = False

    # ------------------------------------------------------------ setup
    def _init_head(self) -> None:
        init_head_weights(self.fc_hidden, self.fc_cls)

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, SlicedConv):
                he_normal_(m.weight.data)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, SlicedBN):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, SharedLayer):
                nn.init.zeros_(m.rezero)
        self._init_head()

    def set_architecture(self, architecture: Architecture,
                         all_ops: bool = False) -> None:
        """The network the next forward passes run (``all_ops``: every
        kernel of every layer on, summed: TuNAS's op warm-up)."""
        self.architecture = architecture
        self.all_ops = all_ops

    def track_bn_stats(self, track: bool) -> None:
        for m in self.modules():
            if isinstance(m, SlicedBN):
                m.track = track

    # ---------------------------------------------------------- forward
    def select_input(self, inputs: Tensor,
                     architecture: Architecture) -> Tensor:
        """``[N, (clips,) C, T, H, W]`` -> the architecture's clip."""
        if inputs.dim() == 6:
            inputs = inputs.flatten(0, 1)
        if inputs.dim() != 5:
            raise ValueError('the supernet expects [N, C, T, H, W] clips, '
                             f'got {tuple(inputs.shape)}')
        needed = (architecture.frames - 1) * architecture.frame_stride + 1
        if inputs.shape[2] < needed:
            raise ValueError(
                f'{architecture.frames} frames at stride '
                f'{architecture.frame_stride} need clips of >= {needed} '
                f'frames, got {inputs.shape[2]}: sample longer clips '
                '(SampleFrames clip_len) or shrink the space\'s frames / '
                'frame_strides')
        x = inputs[:, :, :needed:architecture.frame_stride]
        size = architecture.resolution
        if tuple(x.shape[-2:]) != (size, size):
            n, c, t = x.shape[:3]
            frames = x.transpose(1, 2).reshape(n * t, c, *x.shape[-2:])
            frames = F.interpolate(frames, size=(size, size),
                                   mode='bilinear', align_corners=False)
            x = frames.reshape(n, t, c, size, size).transpose(1, 2)
        return x

    def backbone(self, x: Tensor, architecture: Architecture) -> Tensor:
        arch = architecture.arch
        x = self.stem(x, arch.stem_channels)
        for layers, block in zip(self.blocks, arch.blocks):
            for layer, spec in zip(layers, block.layers):
                x = layer(x, block.out_channels, spec.expand_channels,
                          None if self.all_ops else spec.kernel_size)
        return self.project(x, arch.project_channels)

    def logits(self, inputs: Tensor,
               architecture: Optional[Architecture] = None) -> Tensor:
        architecture = architecture or self.architecture
        if architecture is None:
            raise RuntimeError('no architecture set: call set_architecture '
                               'first')
        feats = self.backbone(self.select_input(inputs, architecture),
                              architecture)
        pooled = feats.mean(dim=(2, 3, 4))
        hidden = self.head_act(F.linear(
            pooled, self.fc_hidden.weight[:, :pooled.shape[1]],
            self.fc_hidden.bias))
        if self.dropout_ratio > 0:
            hidden = F.dropout(hidden, self.dropout_ratio, self.training)
        return self.fc_cls(hidden)

    @staticmethod
    def labels(data_samples) -> Tensor:
        return torch.stack([s.gt_label for s in data_samples]).view(-1)

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        logits = self.logits(inputs)
        if mode == 'tensor':
            return logits
        labels = self.labels(data_samples).to(logits.device)
        if inputs.dim() == 6 and inputs.shape[1] > 1:
            labels = labels.repeat_interleave(inputs.shape[1])
        if mode == 'loss':
            loss = F.cross_entropy(logits, labels,
                                   label_smoothing=self.label_smooth_eps)
            acc = (logits.argmax(1) == labels).float().mean()
            return dict(loss=loss, top1_acc=acc.detach())
        if mode == 'predict':
            return logits.argmax(1) == labels
        raise ValueError(f'unknown mode {mode!r}')

    @torch.no_grad()
    def quality(self, data: dict, architecture: Architecture) -> Tensor:
        """Top-1 accuracy of ``architecture`` on a (preprocessed) batch,
        with BN on the batch's statistics (running ones untouched)."""
        was_training, all_ops = self.training, self.all_ops
        self.train()
        self.track_bn_stats(False)
        self.all_ops = False  # the sampled network, not the op warm-up's sum
        try:
            logits = self.logits(data['inputs'], architecture)
        finally:
            self.track_bn_stats(True)
            self.train(was_training)
            self.all_ops = all_ops
        labels = self.labels(data['data_samples']).to(logits.device)
        return (logits.argmax(1) == labels).float().mean()

    # ----------------------------------------------------------- export
    def export(self, architecture: Architecture) -> Dict[str, Tensor]:
        """The ``MoViNetRecognizer`` state_dict of ``architecture``
        (copies of the sliced weights)."""
        arch = architecture.arch
        out = self.stem.export('backbone.stem.', arch.stem_channels, 3)
        c_in = arch.stem_channels
        for i, (layers, block) in enumerate(zip(self.blocks, arch.blocks)):
            for j, (layer, spec) in enumerate(zip(layers, block.layers)):
                out.update(layer.export(f'backbone.blocks.{i}.{j}.', c_in,
                                        block.out_channels,
                                        spec.expand_channels,
                                        spec.kernel_size))
                c_in = block.out_channels
        out.update(self.project.export('backbone.project.',
                                       arch.project_channels, c_in))
        out['cls_head.fc_hidden.weight'] = \
            self.fc_hidden.weight[:, :arch.project_channels]
        out['cls_head.fc_hidden.bias'] = self.fc_hidden.bias
        out['cls_head.fc_cls.weight'] = self.fc_cls.weight
        out['cls_head.fc_cls.bias'] = self.fc_cls.bias
        return {k: v.detach().clone().contiguous() for k, v in out.items()}

    def standalone_cfg(self, architecture: Architecture) -> dict:
        """The recognizer config that :meth:`export` fits."""
        return recognizer_cfg(architecture, self.num_classes, self.network,
                              self.norm_cfg, self.dropout_ratio,
                              self.label_smooth_eps)


def max_frames_needed(space: SearchSpace) -> int:
    """The clip length (in sampled frames) every input choice fits in."""
    return max((t - 1) * s + 1 for t in space.frames
               for s in space.frame_strides)


__all__ = ['MoViNetSupernet', 'recognizer_cfg', 'network_defaults',
           'max_frames_needed', 'kernel_key']
