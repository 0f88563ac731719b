"""Compound scaling of a searched architecture (how A2 became A0-A5).

A network is scaled by four coefficients: depth (layers per block x d,
rounded up; new layers repeat the block's last one, fewer layers drop the
trailing ones), width (every width and expansion x w, rounded to multiples
of 8), resolution (x r, rounded to multiples of 8) and frames (x f). The
coefficients are found by random search (optuna's ``RandomSampler``) under a
cost target: trials whose MACs land within ``tolerance`` of it are kept and
ranked by ``quality`` (e.g. a short training run; without one, by how close
they come to the target). Scaled networks may leave the search space (more
than 10 layers, widths off the multiples), as A4 and A5 do.
"""
import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from movinet_mm.models.backbones.movinet_arch import (
    MIN_FRAME_SIZE,
    ArchSpec,
    BlockSpec,
    LayerSpec,
)

from .cost import total_macs
from .space import Architecture, round_width


@dataclass(frozen=True)
class Coefficients:
    depth: float = 1.0
    width: float = 1.0
    resolution: float = 1.0
    frames: float = 1.0

    def __post_init__(self):
        for name in ('depth', 'width', 'resolution', 'frames'):
            if not getattr(self, name) > 0:
                raise ValueError(f'scaling coefficient {name} must be > 0, '
                                 f'got {getattr(self, name)}')


def scale(base: Architecture, c: Coefficients) -> Architecture:
    """``base`` scaled by ``c``."""
    arch = base.arch
    blocks = []
    for block in arch.blocks:
        depth = max(1, math.ceil(len(block.layers) * c.depth - 1e-9))
        layers = list(block.layers[:depth])
        while len(layers) < depth:  # new layers repeat the last, unstrided
            last = block.layers[-1]
            layers.append(LayerSpec(last.expand_channels, last.kernel_size))
        blocks.append(BlockSpec(
            round_width(block.out_channels * c.width),
            tuple(LayerSpec(round_width(layer.expand_channels * c.width),
                            layer.kernel_size, layer.stride)
                  for layer in layers)))
    resolution = max(MIN_FRAME_SIZE, round_width(base.resolution * c.resolution))
    frames = max(1, round(base.frames * c.frames))
    scaled = ArchSpec(round_width(arch.stem_channels * c.width),
                      tuple(blocks),
                      round_width(arch.project_channels * c.width),
                      arch.head_channels, resolution)
    return Architecture(scaled, frames, base.frame_stride, resolution,
                        dict(scaled_from=base.describe(),
                             coefficients=c.__dict__))


@dataclass
class Trial:
    coefficients: Coefficients
    architecture: Architecture
    macs: int
    score: float


def compound_search(base: Architecture,
                    target_macs: float,
                    n_trials: int = 200,
                    seed: int = 0,
                    tolerance: float = 0.1,
                    quality: Optional[Callable[[Architecture], float]] = None,
                    ranges: Optional[dict] = None,
                    **cost_kwargs) -> List[Trial]:
    """Random search of the four coefficients for ``target_macs``.

    Returns the trials within ``tolerance`` of the target, best first
    (highest ``quality``, or closest to the target without one).
    ``ranges``: per coefficient ``(low, high)``, sampled log-uniformly;
    defaults cover A0-A5's scalings of A2. ``cost_kwargs``: ``macs``'.
    """
    import optuna
    if target_macs <= 0:
        raise ValueError(f'target_macs must be > 0, got {target_macs}')
    bounds = dict(depth=(0.3, 3.0), width=(0.4, 1.8),
                  resolution=(0.6, 1.5), frames=(0.5, 2.5))
    bounds.update(ranges or {})
    for name, (low, high) in bounds.items():
        if name not in Coefficients.__dataclass_fields__:
            raise ValueError(f'unknown coefficient {name!r}')
        if not 0 < low <= high:
            raise ValueError(f'{name} range must be 0 < low <= high, got '
                             f'{(low, high)}')
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction='maximize', sampler=optuna.samplers.RandomSampler(seed))
    kept: List[Trial] = []

    def objective(trial) -> float:
        c = Coefficients(**{n: trial.suggest_float(n, *b, log=True)
                            for n, b in bounds.items()})
        arch = scale(base, c)
        cost = total_macs(arch.arch, arch.frames, arch.resolution,
                          **cost_kwargs)
        miss = abs(cost / target_macs - 1)
        if miss > tolerance:
            return -miss  # outside the budget: never preferred
        score = quality(arch) if quality is not None else -miss
        kept.append(Trial(c, arch, cost, score))
        return score

    study.optimize(objective, n_trials=n_trials)
    return sorted(kept, key=lambda t: -t.score)


def coefficient_range(trials: List[Trial]) -> Tuple[dict, dict]:
    """Smallest and largest kept coefficient of each kind."""
    names = ('depth', 'width', 'resolution', 'frames')
    return ({n: min(getattr(t.coefficients, n) for t in trials)
             for n in names},
            {n: max(getattr(t.coefficients, n) for t in trials)
             for n in names})


__all__ = ['Coefficients', 'scale', 'compound_search', 'Trial',
           'coefficient_range']
