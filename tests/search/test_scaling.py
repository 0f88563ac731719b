"""Compound scaling: A2 scaled to a cost target by random search (optuna)."""
import pytest

import movinet_mm  # noqa: F401
from movinet_mm.models import ARCH_SPECS
from movinet_mm.search.cost import total_macs
from movinet_mm.search.scaling import Coefficients, compound_search, scale
from movinet_mm.search.space import Architecture

A2 = Architecture(ARCH_SPECS['a2'], 50, 5, 224)


def test_unit_coefficients_keep_the_network():
    assert scale(A2, Coefficients()) == A2


def test_scaling_moves_depth_width_resolution_and_frames():
    scaled = scale(A2, Coefficients(depth=2.0, width=1.25, resolution=0.5,
                                    frames=0.2))
    assert [len(b.layers) for b in scaled.arch.blocks] == \
        [2 * len(b.layers) for b in A2.arch.blocks]
    assert scaled.arch.blocks[4].out_channels == 184  # 180, to 8s
    assert scaled.resolution == 112 and scaled.frames == 10
    # new layers do not stride: still five stride-2 layers in all
    assert sum(layer.stride != (1, 1, 1) for b in scaled.arch.blocks
               for layer in b.layers) == 4
    with pytest.raises(ValueError, match='must be > 0'):
        Coefficients(width=0)


def test_random_search_meets_a0s_cost_from_a2():
    target = total_macs(ARCH_SPECS['a0'], 50, 172)
    trials = compound_search(A2, target, n_trials=150, seed=0)
    assert trials, 'no scaling of A2 within 10% of A0'
    for t in trials:
        assert abs(t.macs / target - 1) <= 0.1
        assert t.macs == total_macs(t.architecture.arch,
                                    t.architecture.frames,
                                    t.architecture.resolution)
    # best first: the closest to the target without a quality function
    assert trials[0].score == max(t.score for t in trials)
    # and a user quality function ranks them
    ranked = compound_search(A2, target, n_trials=60, seed=1,
                             quality=lambda a: a.resolution)
    assert ranked[0].architecture.resolution == max(
        t.architecture.resolution for t in ranked)
