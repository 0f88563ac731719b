"""Weight sharing is exact: a fixed choice of the supernet is the standalone
MoViNet recognizer with the sliced weights; a causal sample streams; the
controller converges on a toy reward."""
import random

import pytest
import torch

import movinet_mm  # noqa: F401
from movinet_mm.search.controller import (
    Controller,
    absolute_reward,
    make_controller_optimizer,
)
from movinet_mm.search.space import SearchSpace
from movinet_mm.search.supernet import MoViNetSupernet
from movinet_mm.utils.random_weights import randomize_

SPACE = dict(stem_base=8, block_bases=(8, 16, 24, 24, 32), project_base=32,
             head_channels=64, depths=(1, 2, 3), frames=(4, 6),
             frame_strides=(1, 2), resolutions=(32, 40))


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_num_threads(threads)


def build(cfg):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    return MODELS.build(cfg)


@pytest.fixture(scope='module', params=[
    (False, 'separate'), (True, 'separate'), (False, 'nested'),
    (True, 'nested')], ids=['base', 'causal', 'base-nested', 'causal-nested'])
def supernet(request):
    causal, sharing = request.param
    model = MoViNetSupernet(space=SPACE, num_classes=5, causal=causal,
                            kernel_sharing=sharing)
    return randomize_(model).eval()


def test_fixed_choice_equals_the_standalone_network(supernet):
    space = supernet.space
    x = torch.randn(2, 3, 12, 44, 44)
    rng = random.Random(1)
    kernels_seen = set()
    for _ in range(4):
        arch = space.sample(rng)
        kernels_seen |= {layer.kernel_size for b in arch.arch.blocks
                         for layer in b.layers}
        with torch.no_grad():
            shared = supernet.logits(x, arch)
        standalone = build(supernet.standalone_cfg(arch)).eval()
        # strict: exactly the standalone's parameters and buffers
        standalone.load_state_dict(supernet.export(arch), strict=True)
        clip = supernet.select_input(x, arch)
        assert clip.shape[2:] == (arch.frames, arch.resolution,
                                  arch.resolution)
        with torch.no_grad():
            alone = standalone.cls_head(standalone.backbone(clip))
        torch.testing.assert_close(shared, alone, atol=1e-5, rtol=0)
        assert shared.abs().max() > 1e-3  # not trivially zero
    assert len(kernels_seen) >= 5


def test_the_widest_network_and_the_smallest_one(supernet):
    space = supernet.space
    x = torch.randn(1, 3, 12, 40, 40)
    for largest in (False, True):
        arch = space.decode(space.extreme_indices(largest))
        standalone = build(supernet.standalone_cfg(arch)).eval()
        standalone.load_state_dict(supernet.export(arch), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(
                supernet.logits(x, arch),
                standalone.cls_head(standalone.backbone(
                    supernet.select_input(x, arch))), atol=1e-5, rtol=0)


def test_causal_sample_streams_like_its_whole_clip():
    supernet = randomize_(MoViNetSupernet(space=SPACE, num_classes=5,
                                          causal=True)).eval()
    arch = supernet.space.sample(5)
    model = build(supernet.standalone_cfg(arch)).eval()
    model.load_state_dict(supernet.export(arch), strict=True)
    clip = torch.randn(1, 3, 7, arch.resolution, arch.resolution)
    with torch.no_grad():
        whole = model.cls_head(model.backbone(clip))
        state, logits = None, None
        for t in range(0, 7, 3):
            logits, state = model.stream_step(clip[:, :, t:t + 3], state)
    torch.testing.assert_close(logits, whole, atol=1e-5, rtol=0)


def test_op_warmup_runs_every_kernel_and_training_updates_prefixes():
    supernet = MoViNetSupernet(space=SPACE, num_classes=5, causal=True)
    randomize_(supernet).train()
    arch = supernet.space.sample(2)
    x = torch.randn(2, 3, 12, 32, 32)
    supernet.set_architecture(arch, all_ops=True)
    supernet.logits(x).sum().backward()
    layer = supernet.blocks[0][0]
    grads = [op.conv.weight.grad for op in layer.features.values()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    # BN running statistics move only on the used prefix
    before = supernet.stem.bn.running_mean.clone()
    supernet.zero_grad()
    supernet.set_architecture(arch)
    supernet.logits(x)
    c = arch.arch.stem_channels
    moved = (supernet.stem.bn.running_mean != before)
    assert moved[:c].all() and not moved[c:].any()
    # held-out quality uses batch statistics and moves nothing
    before = supernet.stem.bn.running_mean.clone()
    from mmaction.structures import ActionDataSample
    samples = [ActionDataSample().set_gt_label(i) for i in (0, 1)]
    acc = supernet.quality(dict(inputs=x, data_samples=samples), arch)
    assert 0 <= float(acc) <= 1
    assert torch.equal(supernet.stem.bn.running_mean, before)


def test_input_longer_than_the_clip_is_a_clear_error():
    supernet = MoViNetSupernet(space=SPACE, num_classes=5)
    arch = supernet.space.decode(supernet.space.extreme_indices(True))
    with pytest.raises(ValueError, match='need clips of >= 11 frames'):
        supernet.select_input(torch.zeros(1, 3, 8, 32, 32), arch)


def test_supernet_rejects_an_unsupported_conv_type():
    with pytest.raises(ValueError, match='convert_conv_type'):
        MoViNetSupernet(space=SPACE, causal=True, conv_type='2plus1d')


# ------------------------------------------------------------- controller
def test_reward_and_baseline():
    assert absolute_reward(0.8, 110, 100, -0.5) == pytest.approx(0.75)
    assert absolute_reward(0.8, 90, 100, -0.5) == pytest.approx(0.75)
    with pytest.raises(ValueError, match='beta must be < 0'):
        absolute_reward(0.8, 90, 100, 0.1)
    controller = Controller(SearchSpace(**SPACE))
    indices = controller.sample_indices(torch.Generator().manual_seed(0))
    controller.reinforce_loss(indices, 1.0)
    controller.reinforce_loss(indices, 1.0)
    assert float(controller.baseline) == pytest.approx(1 - 0.95**2)


def test_batch_reinforce_matches_single_and_converges_faster():
    space = SearchSpace(**SPACE)
    gen = torch.Generator().manual_seed(1)
    one, batch = Controller(space), Controller(space)
    indices = one.sample_indices(gen)
    one.reinforce_loss(indices, 0.7).backward()
    batch.reinforce_loss_batch([indices], [0.7]).backward()
    for name in one.logits:  # decisions the sample does not use: no grad
        a, b = one.logits[name].grad, batch.logits[name].grad
        assert (a is None and b is None) or torch.equal(a, b), name
    assert float(one.baseline) == float(batch.baseline)
    with pytest.raises(ValueError, match='one reward per sample'):
        batch.reinforce_loss_batch([indices], [])
    # the toy reward of the next test: 4 samples per step, 80 steps
    controller = Controller(space)
    optimizer = make_controller_optimizer(controller, lr=0.1)
    k333 = space.kernels.index((3, 3, 3))
    for _ in range(80):
        samples = [controller.sample_indices(gen) for _ in range(4)]
        rewards = [sum(s[f'block{i}_layer0_kernel'] == k333
                       for i in range(5)) / 5 for s in samples]
        optimizer.zero_grad()
        controller.reinforce_loss_batch(samples, rewards).backward()
        optimizer.step()
    best = controller.most_likely_indices()
    assert all(best[f'block{i}_layer0_kernel'] == k333 for i in range(5))


def test_log_prob_and_entropy_count_only_active_decisions():
    space = SearchSpace(**SPACE)
    controller = Controller(space)
    indices = space.sample_indices(3)
    active = space.active(indices)
    expected = sum(-torch.log(torch.tensor(float(len(d.options))))
                   for d in space.decisions() if active[d.name])
    assert float(controller.log_prob(indices).detach()) == pytest.approx(
        float(expected), rel=1e-6)
    assert float(controller.entropy(indices).detach()) == pytest.approx(
        -float(expected), rel=1e-6)


def test_controller_converges_on_a_toy_reward():
    """Reward: the share of blocks with a 3x3x3 first kernel, minus a cost
    term (total depth, target 7; 10 under the uniform start): REINFORCE
    finds both."""
    space = SearchSpace(**SPACE)
    controller = Controller(space)
    optimizer = make_controller_optimizer(controller, lr=0.1)
    gen = torch.Generator().manual_seed(0)
    k333 = space.kernels.index((3, 3, 3))
    for _ in range(300):
        indices = controller.sample_indices(gen)
        quality = sum(indices[f'block{i}_layer0_kernel'] == k333
                      for i in range(5)) / 5
        depth_cost = sum(space.depths[indices[f'block{i}_depth']]
                         for i in range(5))
        reward = absolute_reward(quality, depth_cost, 7, -0.5)
        optimizer.zero_grad()
        controller.reinforce_loss(indices, reward).backward()
        optimizer.step()
    best = controller.most_likely_indices()
    assert all(best[f'block{i}_layer0_kernel'] == k333 for i in range(5))
    assert abs(sum(space.depths[best[f'block{i}_depth']]
                   for i in range(5)) - 7) <= 1
    with torch.no_grad():
        expected = sum(float((torch.softmax(
            controller.logits[f'block{i}_depth'], 0) *
            torch.tensor(space.depths, dtype=torch.float)).sum())
            for i in range(5))
    assert abs(expected - 7) < 0.75
    # the distribution has concentrated
    with torch.no_grad():
        assert float(controller.entropy(best)) < 0.5 * float(
            Controller(space).entropy(best))


def test_controller_lr_zero_keeps_the_logits():
    controller = Controller(SearchSpace(**SPACE))
    optimizer = make_controller_optimizer(controller, lr=0.0)
    indices = controller.sample_indices(torch.Generator().manual_seed(0))
    optimizer.zero_grad()
    controller.reinforce_loss(indices, 1.0).backward()
    optimizer.step()
    assert all(float(p.abs().max()) == 0 for p in controller.parameters())
