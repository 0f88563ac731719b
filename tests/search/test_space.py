"""The search space as data and the cost model.

The cost model must count exactly what tools/analysis/get_flops.py counts on
the built recognizer: checked on the official tables and on random samples
of the space, base and causal, in every conv type that builds them.
"""
import importlib.util
import os.path as osp
import random

import pytest
import torch
from helpers import REPO

import movinet_mm  # noqa: F401
from movinet_mm.models import ARCH_SPECS, MoViNet
from movinet_mm.search.cost import cost_range, macs, total_macs
from movinet_mm.search.space import (
    KERNELS,
    Architecture,
    SearchSpace,
    SearchSpaceError,
    indices_of,
    locate,
    round_width,
)
from movinet_mm.search.supernet import recognizer_cfg

# small bases and depths: the built networks stay quick on a CPU
SMALL = dict(stem_base=8, block_bases=(8, 16, 24, 24, 32), project_base=32,
             head_channels=64, depths=(1, 2, 3), frames=(3, 4),
             frame_strides=(1, 2), resolutions=(32, 40))


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def get_flops():
    path = osp.join(REPO, 'tools', 'analysis', 'get_flops.py')
    spec = importlib.util.spec_from_file_location('movinet_get_flops', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(arch, network, num_classes=7):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    return MODELS.build(recognizer_cfg(arch, num_classes, network)).eval()


NETWORKS = {
    'base': dict(causal=False, conv_type='3d', se_type='3d',
                 activation='swish', gating_activation='sigmoid'),
    'stream': dict(causal=True, conv_type='3d_2plus1d', se_type='2plus3d',
                   activation='hard_swish', gating_activation='hard_sigmoid'),
    'stream_2plus1d': dict(causal=True, conv_type='2plus1d',
                           se_type='2plus3d', activation='hard_swish',
                           gating_activation='hard_sigmoid'),
    'causal_3d_se2d': dict(causal=True, conv_type='3d', se_type='2d',
                           activation='swish', gating_activation='sigmoid'),
}


def test_rounding_and_a2_lies_in_the_space():
    assert [round_width(v) for v in (12, 18, 20, 30, 36, 4)] == \
        [16, 16, 24, 32, 40, 8]
    space = SearchSpace()
    assert locate(ARCH_SPECS['a2'], space) == []
    idx = indices_of(ARCH_SPECS['a2'], space, 50, 5, 224)
    assert space.decode(idx).arch == ARCH_SPECS['a2']
    values = {d.name: d.options[idx[d.name]] for d in space.decisions()}
    assert [values[f'block{i}_width'] for i in range(5)] == [0.75] * 5
    assert values['stem_width'] == 0.75 and values['project_width'] == 1.25
    # the others are scaled out of it
    for name in ('a0', 'a1', 'a3', 'a4', 'a5'):
        assert locate(ARCH_SPECS[name], space), name
    assert any('13 layers' in r for r in locate(ARCH_SPECS['a4'], space))
    assert 'stem width 8 not in [16, 24]' in locate(ARCH_SPECS['a0'], space)
    with pytest.raises(ValueError, match='outside the space'):
        indices_of(ARCH_SPECS['a0'], space, 50, 5, 172)


def test_samples_are_seeded_and_build_with_the_space_structure():
    space = SearchSpace(**SMALL)
    assert space.sample(3) == space.sample(3)
    assert len({space.sample(i).arch for i in range(20)}) > 15
    for seed in range(3):
        arch = space.sample(random.Random(seed))
        assert isinstance(arch, Architecture)
        spec = arch.arch
        for i, block in enumerate(spec.blocks):
            assert 1 <= len(block.layers) <= 3
            assert block.out_channels % 8 == 0
            for j, layer in enumerate(block.layers):
                assert layer.kernel_size in KERNELS
                assert layer.expand_channels % 8 == 0
                stride = space.block_strides[i] if j == 0 else (1, 1, 1)
                assert layer.stride == stride
        # a round trip through the JSON form
        assert Architecture.from_dict(arch.to_dict()) == arch
        # inactive layers' decisions are not recorded
        assert all(int(k.split('_layer')[1].split('_')[0]) <
                   len(spec.blocks[int(k[5])].layers)
                   for k in arch.choices if '_layer' in k)
        for causal in (False, True):
            model = MoViNet(arch=spec, causal=causal,
                            conv_type='3d_2plus1d' if causal else '3d',
                            se_type='2plus3d' if causal else '3d').eval()
            with torch.no_grad():
                out = model(torch.zeros(1, 3, arch.frames, arch.resolution,
                                        arch.resolution))
            assert out.shape[1] == spec.project_channels


@pytest.mark.parametrize('fields, message', [
    (dict(kernels=((1, 3, 3), (2, 3, 3))), 'even size'),
    (dict(kernels=()), 'kernels is empty'),
    (dict(block_bases=(24, 0, 96, 96, 192)), 'positive ints'),
    (dict(width_multipliers=(0.75, -1.0)), 'multipliers must be > 0'),
    (dict(stem_base=0), 'stem_base must be a positive int'),
    (dict(block_strides=((2, 2, 2), (1, 2, 2), (1, 2, 2), (1, 1, 1),
                         (1, 2, 2))), 'strides in time'),
    (dict(depths=(1, 11)), 'depths must be ints in 1..10'),
    (dict(expansion_ratios=()), 'expansion_ratios is empty'),
    (dict(resolutions=(16, )), 'resolutions must be ints >= 32'),
    (dict(frames=(4, 4)), 'lists a choice twice'),
])
def test_invalid_choice_sets_are_one_line_errors(fields, message):
    with pytest.raises(SearchSpaceError, match=message) as info:
        SearchSpace(**fields)
    assert '\n' not in str(info.value)


def test_unknown_space_field():
    with pytest.raises(SearchSpaceError, match='unknown search space fields'):
        SearchSpace.from_dict(dict(kernel=(1, 3, 3)))


@pytest.mark.parametrize('arch', ['a0', 'a2', 't0'] + [
    pytest.param(a, marks=pytest.mark.slow) for a in ('a1', 'a3', 'a4', 'a5')
])
def test_cost_model_equals_get_flops_on_official_archs(arch, get_flops):
    spec = ARCH_SPECS[arch]
    for name in ('base', 'stream'):
        model = build(spec, NETWORKS[name], 600)
        got = get_flops.count_macs_extrapolated(model, (5, 36, 44))
        want = macs(spec, 5, (36, 44), num_classes=600,
                    **_cost_args(NETWORKS[name]))
        assert got == want, (arch, name)


def test_cost_model_of_a0_at_the_official_input(get_flops):
    # the documented official count: A0 base at 50 x 172 x 172, 2.63 GMACs
    gmacs = total_macs(ARCH_SPECS['a0'], 50, 172) / 1e9
    assert gmacs == pytest.approx(2.63, abs=0.01)


def _cost_args(network):
    return {k: network[k] for k in ('causal', 'conv_type', 'se_type')}


@pytest.mark.parametrize('network', sorted(NETWORKS))
def test_cost_model_equals_get_flops_on_samples(network, get_flops):
    space = SearchSpace(**SMALL)
    rng = random.Random(7)
    for _ in range(4):
        arch = space.sample(rng)
        spec = arch.arch
        model = build(spec, NETWORKS[network])
        shape = (arch.frames, arch.resolution, arch.resolution + 6)
        got = get_flops.count_macs(model, shape)
        want = macs(spec, shape[0], shape[1:], num_classes=7,
                    **_cost_args(NETWORKS[network]))
        assert got == want


def test_cost_range_is_exact_on_a_tiny_space():
    """Every network of a two-block space, enumerated."""
    import itertools
    space = SearchSpace(stem_base=8, block_bases=(16, 24),
                        block_strides=((1, 2, 2), (1, 1, 1)),
                        project_base=32, head_channels=64, depths=(1, 2),
                        kernels=((1, 3, 3), (5, 1, 1)),
                        expansion_ratios=(2.0, 3.0),
                        width_multipliers=(0.75, 1.25), frames=(2, 3),
                        frame_strides=(1, ), resolutions=(32, ))
    decisions = space.decisions()
    structural = [d for d in decisions if '_layer' not in d.name]
    costs = set()
    for combo in itertools.product(*[range(len(d.options))
                                     for d in structural]):
        idx = dict(zip([d.name for d in structural], combo))
        depths = [space.depths[idx[f'block{i}_depth']] for i in range(2)]
        layers = [f'block{i}_layer{j}_{kind}' for i in range(2)
                  for j in range(depths[i]) for kind in ('kernel',
                                                         'expansion')]
        for choice in itertools.product(range(2), repeat=len(layers)):
            full = dict(idx, **dict(zip(layers, choice)))
            for d in decisions:
                full.setdefault(d.name, 0)  # inactive layers
            arch = space.decode(full)
            costs.add(total_macs(arch.arch, arch.frames, arch.resolution))
    # block 1 keeps block 0's width (16) at some choices: no skip conv there
    assert cost_range(space) == (min(costs), max(costs))
