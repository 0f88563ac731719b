"""Map official TF MoViNet checkpoint variables onto a movinet_mm recognizer.

Keys are the TF2 object paths of the official checkpoints
(``model/layer_with_weights-0/layer_with_weights-K/_expansion/_conv/kernel``),
never Keras' auto-generated layer names, which change between versions:
``model/layer_with_weights-0`` is the backbone (K = 0 stem, 1..N the block
layers in order, N + 1 the head projection) and ``model/layer_with_weights-1``
the classifier head. The mapping is strict: every variable on both sides
must be matched, with a fitting shape.
"""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch
from torch import nn

SUFFIX = '/.ATTRIBUTES/VARIABLE_VALUE'
BN_NAMES = (('gamma', 'weight'), ('beta', 'bias'),
            ('moving_mean', 'running_mean'), ('moving_variance', 'running_var'))


def _torch_layout(tf_key: str, value: np.ndarray) -> torch.Tensor:
    """A TF (channels-last) kernel in PyTorch's [out, in, *kernel] layout."""
    t = torch.from_numpy(np.ascontiguousarray(value))
    if tf_key.endswith('depthwise_kernel'):  # [kh, kw, C, 1] -> [C, 1, kh, kw]
        return t.permute(2, 3, 0, 1)
    if tf_key.endswith('kernel') and t.dim() == 5:  # [kt,kh,kw,in,out]
        return t.permute(4, 3, 0, 1, 2)
    if tf_key.endswith('kernel') and t.dim() == 4:  # [kh, kw, in, out]
        return t.permute(3, 2, 0, 1)
    return t


def _official_form(conv: nn.Module) -> int:
    """Which key the official layout uses for a conv of this kind: 0 for a
    Keras Conv3D, 1 for a Conv2D inside MobileConv2D ('2plus1d'), 2 for a
    DepthwiseConv2D inside MobileConv2D."""
    if isinstance(conv, nn.Conv3d):
        return 0
    if isinstance(conv, nn.Conv2d) and conv.groups > 1 and \
            conv.groups == conv.in_channels:
        return 2
    return 1


class _Mapper:
    """Collects (torch key -> TF key) pairs for one model.

    With ``tf_vars=None`` it names the keys of the official layout for the
    model instead of looking them up (see :func:`torch_to_tf_vars`).
    """

    def __init__(self, tf_vars: Optional[Mapping[str, np.ndarray]]):
        self.tf_vars = None if tf_vars is None else {
            k[:-len(SUFFIX)] if k.endswith(SUFFIX) else k: v
            for k, v in tf_vars.items()}
        self.pairs: Dict[str, str] = {}
        self.errors: List[str] = []

    def _find(self, candidates: Tuple[str, ...], official: int = 0) -> str:
        if self.tf_vars is None:
            return candidates[official]
        for key in candidates:
            if key in self.tf_vars:
                return key
        self.errors.append(
            f'missing in the TF checkpoint: {candidates[official]}')
        return ''

    def conv(self, ours: str, conv_path: str, bn_path: str,
             module: nn.Module) -> None:
        """One movinet_mm ConvBlock: its conv at ``conv_path``, BN at ``bn_path``."""
        form = _official_form(module.conv)
        kernel = self._find((f'{conv_path}/kernel', f'{conv_path}/_conv/kernel',
                             f'{conv_path}/_conv/depthwise_kernel'), form)
        self.pairs[f'{ours}.conv.weight'] = kernel
        if module.conv.bias is not None:
            self.pairs[f'{ours}.conv.bias'] = self._find(
                (f'{conv_path}/bias', f'{conv_path}/_conv/bias'), min(form, 1))
        if module.bn is not None:
            for tf_name, torch_name in BN_NAMES:
                self.pairs[f'{ours}.bn.{torch_name}'] = self._find(
                    (f'{bn_path}/{tf_name}', ))

    def conv_block(self, ours: str, tf_path: str, module: nn.Module) -> None:
        self.conv(ours, f'{tf_path}/_conv', f'{tf_path}/_batch_norm', module)

    def scalar(self, ours: str, tf_key: str) -> None:
        self.pairs[ours] = self._find((tf_key, ))


def _map_model(model: nn.Module, m: _Mapper) -> None:
    backbone = model.backbone
    root = 'model/layer_with_weights-0'
    m.conv_block('backbone.stem', f'{root}/layer_with_weights-0/_stem',
                 backbone.stem)
    k = 0
    for i, stage in enumerate(backbone.blocks):
        for j, layer in enumerate(stage):
            k += 1
            ours = f'backbone.blocks.{i}.{j}'
            tf = f'{root}/layer_with_weights-{k}'
            m.conv_block(f'{ours}.expansion', f'{tf}/_expansion',
                         layer.expansion)
            m.conv(f'{ours}.feature.conv', f'{tf}/_feature/_conv',
                   f'{tf}/_feature/_batch_norm', layer.feature.conv)
            if layer.feature.conv_temporal is not None:
                m.conv(f'{ours}.feature.conv_temporal',
                       f'{tf}/_feature/_conv_temporal',
                       f'{tf}/_feature/_batch_norm_temporal',
                       layer.feature.conv_temporal)
            if layer.se is not None:
                for name in ('se_reduce', 'se_expand'):
                    m.conv_block(f'{ours}.se.{name}', f'{tf}/_attention/_{name}',
                                 getattr(layer.se, name))
                if layer.se.pos_encoding is not None:
                    m.scalar(f'{ours}.se.pos_encoding.scale',
                             f'{tf}/_attention/_pos_encoding/_rezero/scale')
            m.conv_block(f'{ours}.projection', f'{tf}/_projection',
                         layer.projection)
            if layer.skip is not None:
                m.conv_block(f'{ours}.skip.projection', f'{tf}/_skip/_projection',
                             layer.skip.projection)
            m.scalar(f'{ours}.rezero', f'{tf}/_mobile_bottleneck/_rezero/scale')
    m.conv_block('backbone.project', f'{root}/layer_with_weights-{k + 1}/_project',
                 backbone.project)
    # the classifier's 1x1x1 convs are Conv3D, or MobileConv2D in '2plus1d'
    form = min(_official_form(backbone.project.conv), 1)
    for ours, tf in (('fc_hidden', '_head'), ('fc_cls', '_classifier')):
        m.pairs[f'cls_head.{ours}.weight'] = m._find(
            (f'model/layer_with_weights-1/{tf}/_conv/kernel',
             f'model/layer_with_weights-1/{tf}/_conv/_conv/kernel'), form)
        m.pairs[f'cls_head.{ours}.bias'] = m._find(
            (f'model/layer_with_weights-1/{tf}/_conv/bias',
             f'model/layer_with_weights-1/{tf}/_conv/_conv/bias'), form)


def tf_to_torch_state_dict(tf_vars: Mapping[str, np.ndarray],
                           model: nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """The state dict of ``model`` (a MoViNetRecognizer) from TF variables.

    ``tf_vars`` maps checkpoint keys (with or without the
    ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix) to arrays; extra roots such as
    the optimizer's are ignored. Raises a ValueError listing every mismatch.
    """
    m = _Mapper(tf_vars)
    _map_model(model, m)
    target = model.state_dict()
    out = OrderedDict()
    for ours, value in target.items():
        if ours.endswith('num_batches_tracked'):
            out[ours] = torch.zeros_like(value)
            continue
        tf_key = m.pairs.get(ours)
        if tf_key is None:
            m.errors.append(f'no TF variable for {ours}')
            continue
        if not tf_key:
            continue  # already reported as missing
        tensor = _torch_layout(tf_key, m.tf_vars[tf_key])
        if tuple(tensor.shape) != tuple(value.shape):
            squeezed = [d for d in tensor.shape if d != 1]
            if squeezed == [d for d in value.shape if d != 1] and \
                    tensor.dim() != value.dim():
                # pointwise convs stored as nn.Linear: [out, in] after permute
                tensor = tensor.reshape(value.shape)
            else:
                m.errors.append(f'{tf_key} {tuple(tensor.shape)} does not fit '
                                f'{ours} {tuple(value.shape)}')
                continue
        out[ours] = tensor.to(value.dtype).clone()
    used = set(m.pairs.values())
    unused = sorted(k for k in m.tf_vars
                    if k.startswith('model/') and k not in used
                    and '.OPTIMIZER_SLOT' not in k)
    m.errors += [f'unused TF variable: {k}' for k in unused]
    if m.errors:
        shown = '\n  '.join(m.errors[:20])
        more = f'\n  ... and {len(m.errors) - 20} more' if len(
            m.errors) > 20 else ''
        raise ValueError(f'the TF checkpoint does not match the model '
                         f'({len(m.errors)} problems):\n  {shown}{more}')
    return out


def _tf_layout(tf_key: str, tensor: torch.Tensor, rank: int) -> np.ndarray:
    """The inverse of :func:`_torch_layout`: a PyTorch tensor as the TF
    variable ``tf_key`` of rank ``rank``."""
    t = tensor.detach().cpu()
    if tf_key.endswith('kernel'):
        perm = ((2, 3, 0, 1) if tf_key.endswith('depthwise_kernel') else
                (4, 3, 0, 1, 2) if rank == 5 else (3, 2, 0, 1))
        if t.dim() < rank:  # nn.Linear [out, in] of a 1x1(x1) conv
            t = t.reshape(tuple(t.shape) + (1, ) * (rank - t.dim()))
        t = t.permute(*np.argsort(perm).tolist())
    return t.contiguous().numpy().copy()  # keeps 0-d scalars 0-d


def torch_to_tf_vars(model: nn.Module,
                     suffix: bool = True) -> 'OrderedDict[str, np.ndarray]':
    """The variables of the official TF checkpoint that ``model`` converts
    from: :func:`tf_to_torch_state_dict` inverted.

    The keys (with the ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix unless
    ``suffix`` is False) and shapes are those of the official layout for
    the model's conv type; the values are the model's weights.
    """
    m = _Mapper(None)
    _map_model(model, m)
    out = OrderedDict()
    for ours, value in model.state_dict().items():
        if ours.endswith('num_batches_tracked'):
            continue
        tf_key = m.pairs[ours]
        if tf_key.endswith('kernel'):
            conv = model.get_submodule(ours.rsplit('.', 1)[0])
            rank = 5 if isinstance(conv, nn.Conv3d) or (
                isinstance(conv, nn.Linear) and '/_conv/_conv/' not in tf_key
            ) else 4
        else:
            rank = value.dim()
        out[tf_key + (SUFFIX if suffix else '')] = _tf_layout(
            tf_key, value, rank)
    return out
