"""Convert an official TF MoViNet checkpoint into a movinet_mm checkpoint.

The pieces of ``tools/convert_tf_checkpoint.py``: read the checkpoint without
TensorFlow (:mod:`.tf_reader`), say what it holds (:func:`inspect_tf_vars`),
map it strictly onto a freshly built recognizer (:mod:`.tf_checkpoint`),
reshape it to the requested conv type, and save a tensor-only checkpoint
atomically (:func:`save_checkpoint`).
"""
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch
from torch import nn

from ..models.backbones.movinet_arch import ARCH_SPECS, backbone_settings
from ..utils.files import atomic_output_file, sha256_file
from .kinetics_labels import class_names_for
from .tf_checkpoint import SUFFIX, tf_to_torch_state_dict
from .tf_reader import load_tf_checkpoint

__all__ = ['ConversionError', 'CheckpointInfo', 'inspect_tf_vars',
           'build_model', 'convert_tf_checkpoint', 'save_checkpoint',
           'MODES', 'STREAM_CONV_TYPES', 'CLASSIFIER_KEYS',
           'OFFICIAL_DATASETS', 'paired_config']

MODES = ('base', 'stream')
STREAM_CONV_TYPES = ('2plus1d', '3d_2plus1d')
DEFAULT_STREAM_CONV_TYPE = backbone_settings(None, True)['conv_type']
CLASSIFIER_KEYS = ('cls_head.fc_cls.weight', 'cls_head.fc_cls.bias')
# classes of an official classifier -> (data set, config suffix)
OFFICIAL_DATASETS = {600: ('Kinetics-600', 'k600'),
                     400: ('Kinetics-400', 'k400')}
_LAYER = re.compile(r'^model/layer_with_weights-0/layer_with_weights-(\d+)/')


class ConversionError(ValueError):
    """The checkpoint does not fit the requested model (or is unusable)."""


@dataclass
class CheckpointInfo:
    """What the variables of an official checkpoint say about its model."""
    num_variables: int
    num_block_layers: int
    conv_type: str  # '3d', '2plus1d' or '3d_2plus1d'
    positional_encoding: bool
    num_classes: Optional[int]
    arch_guess: Tuple[str, ...]  # archs with that many block layers

    @property
    def mode(self) -> str:
        return 'stream' if self.conv_type in STREAM_CONV_TYPES else 'base'

    def describe(self) -> str:
        archs = '/'.join(self.arch_guess) or 'unknown arch'
        pe = ', positional encoding' if self.positional_encoding else ''
        return (f'{self.mode} ({self.conv_type} convs{pe}), '
                f'{self.num_block_layers} block layers ({archs}), '
                f'{self.num_classes} classes, {self.num_variables} variables')


def _model_vars(tf_vars: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The variables of the classifier (root ``model/``), suffix stripped.

    Optimizer slots and the other roots of training checkpoints (``backbone/``,
    ``optimizer/``, ``save_counter``) are left out.
    """
    out = {}
    for key, value in tf_vars.items():
        if not key.startswith('model/') or '.OPTIMIZER_SLOT' in key:
            continue
        if key.endswith(SUFFIX):
            key = key[:-len(SUFFIX)]
        elif '/.ATTRIBUTES/' in key:
            continue
        out[key] = value
    return out


def inspect_tf_vars(tf_vars: Mapping[str, np.ndarray]) -> CheckpointInfo:
    model_vars = _model_vars(tf_vars)
    if not model_vars:
        roots = sorted({k.split('/')[0] for k in tf_vars})
        raise ConversionError(
            'no MoViNet classifier variables (model/layer_with_weights-*) in '
            'the checkpoint: not an official MoViNet checkpoint? (its roots: '
            f'{", ".join(roots[:8]) or "none"})')
    layers = [int(m.group(1)) for m in map(_LAYER.match, model_vars) if m]
    num_block_layers = max(layers) - 1 if layers else 0
    if any('/_conv/_conv/' in k for k in model_vars):
        conv_type = '2plus1d'  # MobileConv2D nests a Keras conv in ConvBlock
    elif any(k.endswith('_feature/_conv_temporal/kernel') for k in model_vars):
        conv_type = '3d_2plus1d'
    else:
        conv_type = '3d'
    num_classes = None
    for key in ('model/layer_with_weights-1/_classifier/_conv/kernel',
                'model/layer_with_weights-1/_classifier/_conv/_conv/kernel'):
        if key in model_vars:
            num_classes = int(model_vars[key].shape[-1])
    archs = tuple(a for a, s in ARCH_SPECS.items()
                  if s.num_layers == num_block_layers)
    return CheckpointInfo(
        num_variables=len(model_vars),
        num_block_layers=num_block_layers,
        conv_type=conv_type,
        positional_encoding=any('/_pos_encoding/' in k for k in model_vars),
        num_classes=num_classes,
        arch_guess=archs)


def build_model(arch: str, mode: str, conv_type: Optional[str] = None,
                num_classes: int = 600) -> nn.Module:
    """A movinet_mm recognizer of the official architecture ``arch``/``mode``.

    The backbone has the official settings (``backbone_settings``; a stream
    model takes ``conv_type`` '2plus1d' or '3d_2plus1d'). The classifier
    head uses swish in both, as the official ``MovinetClassifier`` does by
    default.
    """
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    import movinet_mm  # noqa: F401  (registers the modules)

    spec = ARCH_SPECS[arch]
    backbone = dict(type='MoViNet', arch=arch,
                    **backbone_settings(arch, mode == 'stream'))
    if mode == 'stream' and conv_type:
        backbone['conv_type'] = conv_type
    cfg = dict(
        type='MoViNetRecognizer', backbone=backbone,
        cls_head=dict(type='MoViNetHead', num_classes=num_classes,
                      in_channels=spec.project_channels,
                      hidden_channels=spec.head_channels))
    with DefaultScope.overwrite_default_scope('mmaction'):
        return MODELS.build(cfg).eval()


def _likely_causes(info: CheckpointInfo, arch: str, mode: str) -> List[str]:
    causes = []
    if mode == 'base' and info.mode == 'stream':
        found = ('_conv_temporal and nested _conv/_conv (2plus1d)'
                 if info.conv_type == '2plus1d' else
                 '_conv_temporal (3d_2plus1d)')
        causes.append(f'this looks like a stream checkpoint (found {found}) '
                      'but --mode base was given')
    elif mode == 'stream' and info.mode == 'base':
        causes.append(
            'this looks like a base checkpoint (3D convs, no _conv_temporal) '
            'but --mode stream was given (the causal-3D '
            '*_stream_legacy checkpoints have this layout too; they are '
            'not supported)')
    num_layers = ARCH_SPECS[arch].num_layers
    if info.num_block_layers != num_layers:
        guess = (f'arch {" or ".join(info.arch_guess)}' if info.arch_guess
                 else 'no known arch')
        causes.append(
            f'variable count suggests {guess}: the checkpoint has '
            f'{info.num_block_layers} block layers, {arch} has {num_layers}, '
            f'but --arch {arch} was given')
    wants_pe = backbone_settings(arch, mode == 'stream')[
        'use_positional_encoding']
    if info.mode == mode and info.num_block_layers == num_layers and \
            wants_pe != info.positional_encoding:
        causes.append(
            f'the checkpoint {"has" if info.positional_encoding else "lacks"}'
            f' positional-encoding variables (_pos_encoding), but the '
            f'official {arch} {mode} model '
            f'{"uses" if wants_pe else "does not use"} positional encoding')
    return causes


def paired_config(arch: str, mode: str, num_classes: int) -> Optional[str]:
    """The config of ``configs/`` that an official checkpoint with
    ``num_classes`` classes is tested with (None: no such config).

    Kinetics-600: ``movinet_<arch>[_stream]_k600.py``; Kinetics-400 (base
    checkpoints only, ``movinet_<arch>_base_k400``): ``movinet_<arch>_k400.py``.
    """
    dataset = OFFICIAL_DATASETS.get(num_classes)
    if dataset is None or (dataset[1] == 'k400' and mode == 'stream') or \
            arch not in ARCH_SPECS:
        return None
    if arch == 't0' and (mode == 'stream' or dataset[1] != 'k600'):
        return None
    stream = '_stream' if mode == 'stream' else ''
    return f'configs/movinet_{arch}{stream}_{dataset[1]}.py'


@dataclass
class Conversion:
    """The result of :func:`convert_tf_checkpoint`."""
    state_dict: 'OrderedDict[str, torch.Tensor]'
    meta: Dict[str, object]
    info: CheckpointInfo
    summary: List[str]


def convert_tf_checkpoint(src: str,
                          arch: str,
                          mode: str,
                          conv_type: Optional[str] = None,
                          num_classes: Optional[int] = None,
                          finetune: bool = False) -> Conversion:
    """Convert the official checkpoint ``src`` for the model ``arch``/``mode``.

    Args:
        src: a release ``.tar.gz``, a checkpoint directory or a prefix.
        arch: 'a0'-'a5' or 't0'.
        mode: 'base' or 'stream'.
        conv_type: the conv type of the output. Base: '3d' only. Stream:
            '3d_2plus1d' (default; the layout of the stream configs) or
            '2plus1d'; either kind of stream checkpoint converts to both.
        num_classes: the expected number of classes; None takes the
            checkpoint's. A different number needs ``finetune``.
        finetune: drop the classifier (``cls_head.fc_cls.*``) so that it is
            initialised afresh when the checkpoint is loaded into a model
            with ``num_classes`` classes (required then).

    Raises:
        FileNotFoundError, CheckpointError (unreadable), ConversionError
        (does not fit): all before anything is written.
    """
    specs = ARCH_SPECS
    if arch not in specs:
        raise ConversionError(f'unknown arch {arch!r}: one of '
                              f'{", ".join(specs)}')
    if mode not in MODES:
        raise ConversionError(f'unknown mode {mode!r}: base or stream')
    if mode == 'base':
        if conv_type not in (None, '3d'):
            raise ConversionError(f'--conv-type {conv_type} is for stream '
                                  "models; base models use '3d'")
        target_conv = '3d'
    else:
        if conv_type not in (None, ) + STREAM_CONV_TYPES:
            raise ConversionError(
                f'--conv-type {conv_type}: stream models use '
                f'{" or ".join(STREAM_CONV_TYPES)}')
        target_conv = conv_type or DEFAULT_STREAM_CONV_TYPE

    if finetune and num_classes is None:
        raise ConversionError('--finetune needs --num-classes N, the number '
                              'of classes to fine-tune on')

    tf_vars, where = load_tf_checkpoint(src)
    info = inspect_tf_vars(tf_vars)
    causes = _likely_causes(info, arch, mode)
    ckpt_classes = info.num_classes or num_classes or 600
    if num_classes is not None and num_classes != ckpt_classes and \
            not finetune:
        raise ConversionError(
            f'the checkpoint classifies {ckpt_classes} classes but '
            f'--num-classes {num_classes} was given. To fine-tune on '
            f'{num_classes} classes add --finetune: everything is converted '
            'and the classifier (cls_head.fc_cls.*) is dropped, to be '
            'initialised afresh.')

    source_conv = info.conv_type if (mode == 'stream' and info.mode ==
                                     'stream') else target_conv
    model = build_model(arch, mode, source_conv, ckpt_classes)
    try:
        state_dict = tf_to_torch_state_dict(tf_vars, model)
    except ValueError as e:
        head = '; '.join(causes) if causes else (
            f'the checkpoint ({info.describe()}) does not fit the official '
            f'{arch} {mode} model')
        raise ConversionError(f'{head}.\n{e}') from None
    if causes:  # cannot happen with a strict mapping, but never guess
        raise ConversionError('; '.join(causes))

    mapped = sum(not k.endswith('num_batches_tracked') for k in state_dict)
    summary = [f'source: {where}',
               f'found: {info.describe()}',
               f'mapped {mapped} tensors of the {arch} {mode} model from '
               f'{info.num_variables} TF variables (strict: nothing missing, '
               'unused or misshapen)']
    if source_conv != target_conv:
        from movinet_mm.models import convert_conv_type
        target = build_model(arch, mode, target_conv, ckpt_classes)
        state_dict = convert_conv_type(state_dict, target)
        summary.append(f'conv type {source_conv} -> {target_conv} '
                       '(same weights, kernels reshaped)')
    dropped = []
    if finetune:
        dropped = [k for k in CLASSIFIER_KEYS if k in state_dict]
        for k in dropped:
            del state_dict[k]
        summary.append(
            f'fine-tuning: dropped the {ckpt_classes}-class classifier '
            f'({", ".join(dropped)}); it will be initialised afresh for '
            f'{num_classes} classes (MMEngine then reports these keys as '
            'missing)')
    out_classes = num_classes if num_classes is not None else ckpt_classes
    state_dict = OrderedDict((k, v.contiguous()) for k, v in
                             state_dict.items())
    num_params = sum(v.numel() for k, v in state_dict.items()
                     if not k.endswith(('running_mean', 'running_var',
                                        'num_batches_tracked')))
    summary.append(f'{len(state_dict)} tensors, {num_params:,} parameters '
                   '(BN statistics excluded)')
    class_names = None if finetune else class_names_for(out_classes)
    if class_names:
        summary.append(f'class names: the {len(class_names)} '
                       f'{OFFICIAL_DATASETS[len(class_names)][0]} classes '
                       f'({class_names[0]!r} ... {class_names[-1]!r}), in '
                       "meta['class_names']")
    config = None if finetune else paired_config(arch, mode, out_classes)
    if config:
        summary.append(f'config: {config} ({out_classes} classes)')
    meta = dict(
        converted_from=os.path.basename(os.path.normpath(src)),
        source_format='tf2-checkpoint',
        arch=arch,
        mode=mode,
        conv_type=target_conv,
        source_conv_type=info.conv_type,
        num_classes=int(out_classes),
        checkpoint_num_classes=int(ckpt_classes),
        use_positional_encoding=int(info.positional_encoding),
        classifier_dropped=','.join(dropped),
        converter='movinet_mm.converters (tools/convert_tf_checkpoint.py)',
    )
    if class_names:
        meta['class_names'] = class_names
    if config:
        meta['config'] = config
    if os.path.isfile(src):
        meta['source_sha256'] = sha256_file(src)
    from movinet_mm.version import __version__
    meta['movinet_mm_version'] = __version__
    return Conversion(state_dict, meta, info, summary)


def save_checkpoint(checkpoint: dict, dst: str) -> str:
    """``torch.save`` to ``dst`` atomically; returns the file's SHA-256.

    The file is written to a temporary file in the same directory and moved
    into place with ``os.replace``: ``dst`` is either the complete new file
    or untouched, and nothing is left behind on failure. An existing
    directory as ``dst`` is a ``ValueError``.
    """
    if os.path.isdir(dst):
        raise ValueError(f'output {dst} is an existing directory; expected '
                         'a file path')
    with atomic_output_file(dst) as tmp:
        with open(tmp, 'wb') as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        digest = sha256_file(tmp)
    return digest
