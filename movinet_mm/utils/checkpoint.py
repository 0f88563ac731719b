"""Checkpoints that must fit their model: read, describe, compare, load.

MMEngine loads checkpoints with ``strict=False`` by default and reports a
mismatch as hundreds of ``size mismatch`` lines, after which a test runs on
random weights. Here a checkpoint either fits, or one error says what the
file looks like (arch guessed from the tensor shapes, base or stream, conv
type, classes) against what the model builds. Non-strict loading (fine-tuning)
ends with a one-line summary of what was not loaded.

The architectures a description can name are registered by
``movinet_mm.models`` (:func:`register_archs`): utils imports no models.
"""
import logging
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from .errors import CheckpointError
from .files import check_output_path  # noqa: F401  (was defined here)

MODULE_PREFIX = re.compile(r'^module\.')
STEM_KEY = 'stem.conv.weight'
# name -> arch table (stem_channels, blocks, project_channels)
KNOWN_ARCHS: Dict[str, Any] = {}


def register_archs(archs: Mapping[str, Any]) -> None:
    """Let checkpoint descriptions name these architectures."""
    KNOWN_ARCHS.update(archs)


# ------------------------------------------------------------------ reading
def read_checkpoint(path: str, map_location='cpu') -> dict:
    """The checkpoint at ``path`` as a dict with a ``state_dict`` entry.

    A plain state dict (tensors only) is wrapped as ``{'state_dict': sd}``.
    Anything else (missing, a directory, empty, not a torch file, no tensors)
    is a one-line :class:`CheckpointError` naming the file.
    """
    path = str(path)
    if '://' in path:  # URLs and MMEngine's other schemes
        from mmengine.runner.checkpoint import _load_checkpoint
        ckpt = _load_checkpoint(path, map_location=map_location)
    else:
        if not osp.exists(path):
            raise CheckpointError(f'checkpoint {path}: no such file')
        if osp.isdir(path):
            raise CheckpointError(f'checkpoint {path} is a directory, not a '
                                  'checkpoint file')
        if osp.getsize(path) == 0:
            raise CheckpointError(f'checkpoint {path} is empty (0 bytes)')
        try:
            # MMEngine's training checkpoints pickle more than tensors; local
            # files are the user's own (see movinet_mm.compat).
            ckpt = torch.load(path, map_location=map_location,
                              weights_only=False)
        except Exception as error:  # torch raises many kinds here
            reason = str(error).strip().splitlines()
            reason = reason[0] if reason else type(error).__name__
            raise CheckpointError(
                f'checkpoint {path} is not a torch checkpoint that can be '
                f'read ({type(error).__name__}: {reason[:200]})') from None
    state = state_dict_of(ckpt, path)
    out = dict(ckpt) if isinstance(ckpt, dict) and 'state_dict' in ckpt \
        else {'state_dict': state}
    out['state_dict'] = state
    return out


def state_dict_of(ckpt, name: str = 'checkpoint') -> 'Dict[str, Tensor]':
    """The tensors of a checkpoint, ``module.`` prefixes removed."""
    if isinstance(ckpt, Mapping) and 'state_dict' in ckpt:
        state = ckpt['state_dict']
    else:
        state = ckpt
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f'{name} holds no state dict (got '
                              f'{type(state).__name__})')
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(
            f'{name}: its state dict has {len(bad)} non-tensor entries '
            f'(e.g. {bad[0]!r}: {type(state[bad[0]]).__name__}); expected '
            'only tensors')
    return {MODULE_PREFIX.sub('', k): v for k, v in state.items()}


# --------------------------------------------------------------- describing
@dataclass
class BackboneSummary:
    arch: str
    kind: str  # 'base' or 'stream'
    conv_type: str
    se_type: str
    positional_encoding: bool
    num_classes: Optional[int]

    def __str__(self) -> str:
        extras = [self.conv_type, f'SE {self.se_type}']
        if self.positional_encoding:
            extras.append('pos. enc.')
        arch = self.arch.upper() if self.arch in KNOWN_ARCHS else self.arch
        text = f'MoViNet-{arch} {self.kind} ({", ".join(extras)})'
        if self.num_classes is not None:
            text += f', {self.num_classes} classes'
        return text


def _layer_keys(state: Mapping[str, Tensor], prefix: str):
    pattern = re.compile(re.escape(prefix) + r'blocks\.(\d+)\.(\d+)\.'
                         r'expansion\.conv\.weight$')
    layers = {}
    for key in state:
        match = pattern.match(key)
        if match:
            layers.setdefault(int(match.group(1)), []).append(
                int(match.group(2)))
    return {i: sorted(js) for i, js in sorted(layers.items())}


def _guess_arch(state: Mapping[str, Tensor], prefix: str) -> str:
    stem = state[prefix + STEM_KEY].shape[0]
    blocks = []
    for i, js in _layer_keys(state, prefix).items():
        expands = tuple(
            state[f'{prefix}blocks.{i}.{j}.expansion.conv.weight'].shape[0]
            for j in js)
        out_key = f'{prefix}blocks.{i}.{js[-1]}.projection.conv.weight'
        out = state[out_key].shape[0] if out_key in state else None
        blocks.append((out, expands))
    project_key = prefix + 'project.conv.weight'
    project = state[project_key].shape[0] if project_key in state else None
    for name, spec in KNOWN_ARCHS.items():
        table = [(b.out_channels, tuple(layer.expand_channels
                                        for layer in b.layers))
                 for b in spec.blocks]
        if (spec.stem_channels == stem and table == blocks
                and spec.project_channels == project):
            return name
    return 'custom'


def _summarise(state: Mapping[str, Tensor], prefix: str,
               head_prefix: str) -> BackboneSummary:
    keys = [k for k in state if k.startswith(prefix)]
    temporal = [k for k in keys if '.conv_temporal.conv.weight' in k]
    if temporal:
        kind = 'stream'
        conv_type = '2plus1d' if state[temporal[0]].dim() == 4 \
            else '3d_2plus1d'
    else:
        stem = state[prefix + STEM_KEY]
        conv_type = '2plus1d' if stem.dim() == 4 else '3d'
        kind = 'base'
    se_type = 'none'
    for key in keys:
        if key.endswith('.se.se_reduce.conv.weight'):
            expand_key = key.replace('.se.se_reduce.conv.weight',
                                     '.expansion.conv.weight')
            expand = state[expand_key].shape[0] if expand_key in state \
                else None
            # '2plus3d' concatenates a 2D and a 3D pool: twice the channels.
            se_type = '2plus3d' if state[key].shape[1] == 2 * (expand or -1) \
                else '3d or 2d'
            break
    if se_type == '2plus3d' and not temporal:
        kind = 'stream'  # a causal 3D (legacy) stream model
    positional = any(k.endswith('.se.pos_encoding.scale') for k in keys)
    cls_key = head_prefix + 'fc_cls.weight'
    num_classes = state[cls_key].shape[0] if cls_key in state else None
    return BackboneSummary(_guess_arch(state, prefix), kind, conv_type,
                           se_type, positional, num_classes)


def summarise_checkpoint(state: Mapping[str, Tensor]
                         ) -> List[Tuple[str, BackboneSummary]]:
    """(prefix, summary) of every MoViNet found in a state dict."""
    prefixes = sorted(k[:-len(STEM_KEY)] for k in state
                      if k.endswith(STEM_KEY))
    found = []
    for prefix in prefixes:
        owner = prefix[:-len('backbone.')] if prefix.endswith('backbone.') \
            else prefix
        found.append((owner, _summarise(state, prefix, owner + 'cls_head.')))
    return found


def describe_checkpoint(state: Mapping[str, Tensor]) -> str:
    """One line on what a state dict holds, e.g.
    ``MoViNet-A0 stream (2plus1d, SE 2plus3d), 600 classes``."""
    if isinstance(state, nn.Module):
        state = state.state_dict()
    state = {MODULE_PREFIX.sub('', k): v for k, v in state.items()}
    found = summarise_checkpoint(state)
    if not found:
        return f'{len(state)} tensors, no MoViNet (no *{STEM_KEY})'
    if len(found) == 1:
        return str(found[0][1])
    members = '; '.join(f'{owner.rstrip(".")}: {summary}'
                        for owner, summary in found)
    return f'ensemble of {len(found)} MoViNets ({members})'


# -------------------------------------------------------------- comparing
@dataclass
class KeyReport:
    """How a checkpoint's tensors fit a model's state dict."""
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self, limit: int = 3) -> str:
        parts = []
        for label, items in (('missing', self.missing),
                             ('unexpected', self.unexpected)):
            if items:
                shown = ', '.join(items[:limit])
                more = f', ... (+{len(items) - limit})' \
                    if len(items) > limit else ''
                parts.append(f'{len(items)} {label} ({shown}{more})')
        if self.mismatched:
            shown = ', '.join(f'{k} {list(a)} vs {list(b)}'
                              for k, a, b in self.mismatched[:limit])
            more = f', ... (+{len(self.mismatched) - limit})' \
                if len(self.mismatched) > limit else ''
            parts.append(f'{len(self.mismatched)} of other shape '
                         f'(checkpoint vs model: {shown}{more})')
        return '; '.join(parts) if parts else 'all keys match'


def compare_state_dicts(model_state: Mapping[str, Tensor],
                        ckpt_state: Mapping[str, Tensor]) -> KeyReport:
    report = KeyReport()
    for key, value in model_state.items():
        if key not in ckpt_state:
            report.missing.append(key)
        elif tuple(ckpt_state[key].shape) != tuple(value.shape):
            report.mismatched.append((key, tuple(ckpt_state[key].shape),
                                      tuple(value.shape)))
    report.unexpected = [k for k in ckpt_state if k not in model_state]
    return report


def _unwrap(model: nn.Module) -> nn.Module:
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model


def mismatch_message(name: str, ckpt_state: Mapping[str, Tensor],
                     model: nn.Module, report: KeyReport) -> str:
    return (f'checkpoint {osp.basename(str(name))} does not fit the model: '
            f'the checkpoint holds {describe_checkpoint(ckpt_state)}, the '
            f'model is {describe_checkpoint(model.state_dict())}; '
            f'{report.summary()} (full path: {name}; load non-strictly '
            'only if you mean to)')


def load_state_dict_checked(model: nn.Module,
                            ckpt_state: Mapping[str, Tensor],
                            name: str = 'checkpoint',
                            strict: bool = True,
                            logger=None) -> KeyReport:
    """Load ``ckpt_state`` into ``model``; strict: fit or raise one error.

    Non-strict loads the tensors whose names and shapes fit and logs one
    line on what was not loaded.
    """
    model = _unwrap(model)
    ckpt_state = {MODULE_PREFIX.sub('', k): v for k, v in ckpt_state.items()}
    report = compare_state_dicts(model.state_dict(), ckpt_state)
    if strict and not report.fits:
        raise CheckpointError(mismatch_message(name, ckpt_state, model,
                                               report))
    skip = {k for k, _, _ in report.mismatched}
    loadable = {k: v for k, v in ckpt_state.items()
                if k not in skip and k not in report.unexpected}
    model.load_state_dict(loadable, strict=False)
    if not report.fits:
        _log(f'loaded {len(loadable)} of {len(model.state_dict())} tensors '
             f'from {name} (non-strict); not loaded: {report.summary()}',
             logger, level=logging.WARNING)
    return report


def load_checked_checkpoint(model: nn.Module, path: str, strict: bool = True,
                            logger=None) -> dict:
    """Load the checkpoint at ``path`` into ``model``; returns its meta.

    ``strict=True``: every tensor must exist in both with the same shape,
    else one :class:`CheckpointError` (a ``ValueError``) says what the
    checkpoint looks like against what the model builds.
    """
    ckpt = read_checkpoint(path)
    load_state_dict_checked(model, ckpt['state_dict'], str(path), strict,
                            logger)
    meta = ckpt.get('meta')
    return dict(meta) if isinstance(meta, Mapping) else {}


def _log(message: str, logger=None, level=logging.INFO) -> None:
    from mmengine.logging import print_log
    print_log(message, logger=logger if logger is not None else 'current',
              level=level)
