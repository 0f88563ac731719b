"""How well the supernet ranks architectures: Kendall's tau between the
shared-weight scores and the standalone accuracies, and the scores.

:func:`supernet_scores` gives each architecture's held-out top-1 with the
supernet's shared weights, either with BN on each batch's statistics (as
``MoViNetSupernet.quality``) or after recalibrating the path's BN on a few
training batches (cumulative averages, as ``momentum=None``); the
supernet's parameters, BN statistics, mode and the global RNG states are
left as they were.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .space import Architecture, SearchSpace, indices_of


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two paired sequences (ties counted as in
    ``scipy.stats.kendalltau``): 1 for the same order, -1 for the reverse;
    NaN when one of them is constant (no order to compare)."""
    x, y = [float(v) for v in x], [float(v) for v in y]
    if len(x) != len(y):
        raise ValueError(f'kendall_tau needs paired values, got {len(x)} and '
                         f'{len(y)}')
    if len(x) < 3:
        raise ValueError(f'kendall_tau needs at least 3 architectures, got '
                         f'{len(x)}')
    if not all(math.isfinite(v) for v in x + y):
        raise ValueError('kendall_tau needs finite values')
    concordant = discordant = ties_x = ties_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue  # tied in both: in neither count
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) *
                            (concordant + discordant + ties_y))
    if denominator == 0:
        return float('nan')
    return (concordant - discordant) / denominator


def check_same_space(space: SearchSpace,
                     architectures: Sequence[Architecture]) -> None:
    """ValueError (one line) unless every architecture is a network of
    ``space`` (widths, depths, kernels, expansions, strides and input
    choices; :func:`~movinet_mm.search.space.indices_of`)."""
    for k, arch in enumerate(architectures):
        if not isinstance(arch, Architecture):
            raise ValueError(f'architecture {k} is a {type(arch).__name__}, '
                             'not an Architecture (Architecture.from_dict '
                             'reads a record)')
        try:
            indices_of(arch.arch, space, arch.frames, arch.frame_stride,
                       arch.resolution)
        except ValueError as e:
            raise ValueError(f"architecture {k} is not in the supernet's "
                             f'search space ({e}): score architectures of '
                             'the space the supernet was built with') from None


def _bn_modules(supernet) -> list:
    from .supernet import SlicedBN
    return [m for m in supernet.modules() if isinstance(m, SlicedBN)]


def _prepared(supernet, batch: dict) -> dict:
    """A data loader batch through the supernet's data preprocessor (a
    batch whose inputs are already a tensor is taken as it is)."""
    if isinstance(batch.get('inputs'), Tensor):
        return batch
    return supernet.data_preprocessor(batch, False)


def _correct(logits: Tensor, supernet, data: dict) -> Tuple[int, int]:
    labels = supernet.labels(data['data_samples']).to(logits.device)
    inputs = data['inputs']
    if inputs.dim() == 6 and inputs.shape[1] > 1:
        labels = labels.repeat_interleave(inputs.shape[1])
    return int((logits.argmax(1) == labels).sum()), int(labels.numel())


@torch.no_grad()
def supernet_scores(supernet,
                    architectures: Sequence[Architecture],
                    held_out_batches: Sequence[dict],
                    calibration_batches: Optional[Sequence[dict]] = None
                    ) -> List[float]:
    """Each architecture's top-1 on ``held_out_batches`` with the
    supernet's shared weights (over every clip of every batch).

    ``calibration_batches`` (training batches) given: for each
    architecture the running BN statistics of its path are reset, the
    batches are run in train mode with cumulative averaging (as BN's
    ``momentum=None``) and the held-out batches are scored in eval mode with
    those statistics. None (or empty): scored with BN on each held-out
    batch's statistics, as ``MoViNetSupernet.quality``. Dropout is off in
    both. Batches are data loader batches or preprocessed ones. The
    supernet's parameters, BN statistics, train / eval mode, BN ``track``
    flags, the architecture set on it and the global RNG states are as
    before afterwards.
    """
    check_same_space(supernet.space, architectures)
    if not held_out_batches:
        raise ValueError('supernet_scores needs at least one held-out batch')
    held_out = [_prepared(supernet, b) for b in held_out_batches]
    calibration = [_prepared(supernet, b) for b in calibration_batches or []]
    bns = _bn_modules(supernet)
    saved_stats = [(m.running_mean.clone(), m.running_var.clone(),
                    m.momentum, m.track) for m in bns]
    was_training = supernet.training
    dropout = supernet.dropout_ratio
    current = (supernet.architecture, supernet.all_ops)
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() \
        and torch.cuda.is_initialized() else []
    scores = []
    with torch.random.fork_rng(devices=devices):
        try:
            supernet.dropout_ratio = 0.0
            for arch in architectures:
                # one kernel per layer (not the op warm-up's sum)
                supernet.set_architecture(arch, False)
                if calibration:
                    _recalibrate(supernet, bns, arch, calibration)
                    supernet.eval()
                else:
                    supernet.train()
                    supernet.track_bn_stats(False)
                correct = total = 0
                for data in held_out:
                    logits = supernet.logits(data['inputs'], arch)
                    c, n = _correct(logits, supernet, data)
                    correct, total = correct + c, total + n
                scores.append(correct / max(total, 1))
        finally:
            supernet.dropout_ratio = dropout
            supernet.set_architecture(*current)
            for m, (mean, var, momentum, track) in zip(bns, saved_stats):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.momentum, m.track = momentum, track
            supernet.train(was_training)
    return scores


def _recalibrate(supernet, bns, arch: Architecture,
                 calibration: Sequence[dict]) -> None:
    """Reset the BN running statistics and re-estimate those of ``arch``'s
    path as the average over the calibration batches."""
    for m in bns:
        m.running_mean.zero_()
        m.running_var.fill_(1.0)
        m.track = True
    supernet.train()
    for k, data in enumerate(calibration):
        for m in bns:
            m.momentum = 1.0 / (k + 1)  # cumulative average
        # BN is all in the backbone: the head (and its dropout) not needed
        supernet.backbone(supernet.select_input(data['inputs'], arch), arch)


__all__ = ['kendall_tau', 'check_same_space', 'supernet_scores']
