"""Kendall's tau, the space check and the supernet's shared-weight scores
(with and without BN recalibration) that leave the supernet as it was."""
import copy
import math
import random

import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample

import movinet_mm  # noqa: F401
from movinet_mm.search.ranking import (
    check_same_space,
    kendall_tau,
    supernet_scores,
)
from movinet_mm.search.space import SearchSpace
from movinet_mm.search.supernet import MoViNetSupernet, SlicedBN
from movinet_mm.utils.random_weights import randomize_

SPACE = dict(stem_base=8, block_bases=(8, 16, 16, 16, 24), project_base=32,
             head_channels=64, depths=(1, 2), frames=(4, ),
             frame_strides=(1, 2), resolutions=(32, ))


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------ kendall_tau
@pytest.mark.parametrize('x, y, tau', [
    ([1, 2, 3, 4], [10, 20, 30, 40], 1.0),
    ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
    # one discordant pair of 6: (5 - 1) / 6
    ([1, 2, 3, 4], [1, 2, 4, 3], 4 / 6),
    # ties: x = (1, 2, 2, 3), y = (1, 3, 2, 2). Pairs: (0,1) C, (0,2) C,
    # (0,3) C, (1,2) tie in x, (1,3) D, (2,3) tie in y -> C=3, D=1,
    # tau-b = (3 - 1) / sqrt((3 + 1 + 1) (3 + 1 + 1)) = 2 / 5
    ([1, 2, 2, 3], [1, 3, 2, 2], 0.4),
    # ties in both at the same pair count in neither: x = (1, 1, 2),
    # y = (5, 5, 6): C=2, D=0, tau-b = 2 / sqrt(2 * 2) = 1
    ([1, 1, 2], [5, 5, 6], 1.0),
])
def test_kendall_tau_known_values(x, y, tau):
    assert kendall_tau(x, y) == pytest.approx(tau)


def test_kendall_tau_matches_scipy_with_ties():
    stats = pytest.importorskip('scipy.stats')
    rng = random.Random(0)
    for _ in range(20):
        x = [rng.randrange(4) for _ in range(9)]
        y = [rng.randrange(3) / 8 for _ in range(9)]
        expected = stats.kendalltau(x, y).statistic
        got = kendall_tau(x, y)
        if math.isnan(expected):
            assert math.isnan(got)
        else:
            assert got == pytest.approx(expected)


def test_kendall_tau_of_a_constant_is_nan():
    assert math.isnan(kendall_tau([1, 2, 3], [0.5, 0.5, 0.5]))


@pytest.mark.parametrize('x, y, message', [
    ([1, 2], [1, 2], 'at least 3 architectures, got 2'),
    ([1, 2, 3], [1, 2], 'paired values, got 3 and 2'),
    ([1, 2, float('nan')], [1, 2, 3], 'finite'),
])
def test_kendall_tau_errors(x, y, message):
    with pytest.raises(ValueError, match=message) as info:
        kendall_tau(x, y)
    assert '\n' not in str(info.value)


# --------------------------------------------------------- the space check
def test_architectures_of_another_space_are_a_clear_error():
    space = SearchSpace(**SPACE)
    mine = [space.sample(k) for k in range(3)]
    check_same_space(space, mine)  # no error
    other = SearchSpace(**dict(SPACE, depths=(3, ), resolutions=(40, )))
    with pytest.raises(ValueError, match="architecture 1 is not in the "
                       "supernet's search space") as info:
        check_same_space(space, [mine[0], other.sample(0)])
    assert 'block 0 has 3 layers' in str(info.value)
    assert '\n' not in str(info.value)
    with pytest.raises(ValueError, match='not an Architecture'):
        check_same_space(space, [mine[0].to_dict()])


# -------------------------------------------------------- supernet_scores
def batch(n, seed, classes=4):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.rand(n, 3, 8, 32, 32, generator=gen)
    samples = []
    for k in range(n):
        s = ActionDataSample()
        s.set_gt_label(k % classes)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture(scope='module')
def supernet():
    model = MoViNetSupernet(space=SPACE, num_classes=4, causal=True,
                            dropout_ratio=0.5)
    randomize_(model)
    for m in model.modules():  # running statistics that are not the init
        if isinstance(m, SlicedBN):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.train()


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize('calibrate', [False, True],
                         ids=['batch_stats', 'recalibrated'])
def test_supernet_scores_leave_the_supernet_as_it_was(supernet, calibrate):
    space = supernet.space
    archs = [space.sample(k) for k in range(3)]
    held_out = [batch(6, 1), batch(5, 2)]
    calibration = [batch(4, 3), batch(4, 4)] if calibrate else None
    before = snapshot(supernet)
    momenta = [m.momentum for m in supernet.modules()
               if isinstance(m, SlicedBN)]
    supernet.set_architecture(archs[0], True)  # e.g. mid op warm-up
    torch.manual_seed(123)
    np.random.seed(5)
    rng_before = torch.get_rng_state()

    scores = supernet_scores(supernet, archs, held_out, calibration)
    again = supernet_scores(supernet, archs, held_out, calibration)

    assert scores == again  # deterministic (no dropout, fixed statistics)
    assert len(scores) == 3
    assert all(0 <= s <= 1 and (s * 11) == pytest.approx(round(s * 11))
               for s in scores)  # over all 11 clips of both batches
    after = snapshot(supernet)
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert supernet.training
    assert supernet.architecture == archs[0] and supernet.all_ops
    bns = [m for m in supernet.modules() if isinstance(m, SlicedBN)]
    assert all(m.track for m in bns)
    assert [m.momentum for m in bns] == momenta
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_recalibration_uses_the_calibration_batches(supernet):
    """Calibrated scores are the eval-mode logits with BN statistics equal
    to the calibration batches' averages; other calibration data give
    other statistics (so not a no-op)."""
    space = supernet.space
    arch = space.sample(7)
    held_out = [batch(8, 11)]
    calibration = [batch(4, 12), batch(4, 13)]
    # reference: a copy with every BN's running stats set from the average
    # of the two batches' statistics, one forward each with momentum 1/k
    ref = copy.deepcopy(supernet)
    ref.set_architecture(arch, False)
    for m in ref.modules():
        if isinstance(m, SlicedBN):
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
    ref.train()
    with torch.no_grad():
        for k, data in enumerate(calibration):
            for m in ref.modules():
                if isinstance(m, SlicedBN):
                    m.momentum = 1 / (k + 1)
            ref.logits(data['inputs'], arch)
        ref.eval()
        logits = ref.logits(held_out[0]['inputs'], arch)
    labels = torch.tensor([k % 4 for k in range(8)])
    expected = float((logits.argmax(1) == labels).float().mean())
    assert supernet_scores(supernet, [arch], held_out, calibration) == \
        [pytest.approx(expected)]
