"""The official recipe's optimizer details (Keras RMSprop, per-variable
clipping) and parameter groups merged by their options."""
import copy

import pytest
import torch
from mmaction.registry import OPTIM_WRAPPERS, OPTIMIZERS


def test_tf_rmsprop_matches_the_keras_update():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = OPTIMIZERS.build(dict(type='TFRMSprop', params=[w], lr=0.5,
                                rho=0.9, momentum=0.9, eps=1.0,
                                weight_decay=0.1))
    ms = torch.zeros(2)
    mom = torch.zeros(2)
    ref = w.detach().clone()
    for g in (torch.tensor([0.3, -4.0]), torch.tensor([1.5, 2.0])):
        w.grad = g.clone()
        opt.step()
        g = g + 0.1 * ref  # L2 term
        ms = 0.9 * ms + 0.1 * g * g
        mom = 0.9 * mom + 0.5 * g / torch.sqrt(ms + 1.0)
        ref = ref - mom
        torch.testing.assert_close(w.detach(), ref)
    with pytest.raises(ValueError, match='eps'):
        OPTIMIZERS.build(dict(type='TFRMSprop', params=[w], lr=1, eps=-1))


def test_per_variable_clipping_clips_each_gradient_alone():
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(2))
    wrapper = OPTIM_WRAPPERS.build(
        dict(type='PerVariableClipOptimWrapper',
             optimizer=torch.optim.SGD([a, b], lr=1.0),
             clip_grad=dict(max_norm=1.0)))
    a.grad = torch.tensor([3.0, 4.0])  # norm 5 -> clipped to 1
    b.grad = torch.tensor([0.3, 0.4])  # norm 0.5 -> untouched
    wrapper.step()
    torch.testing.assert_close(a.detach(), torch.tensor([-0.6, -0.8]))
    torch.testing.assert_close(b.detach(), torch.tensor([-0.3, -0.4]))


def _net():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6),
                              torch.nn.Linear(6, 3))
    net.register_parameter('rezero', torch.nn.Parameter(torch.zeros(3)))
    return net


def _wrapper(net, merged: bool, fused: bool = True):
    from mmengine.optim import build_optim_wrapper
    cfg = dict(optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.05,
                              fused=fused),
               paramwise_cfg=dict(norm_decay_mult=0.0,
                                  custom_keys={'rezero': dict(lr_mult=20.0)}),
               clip_grad=dict(max_norm=1.0, foreach=True))
    if merged:
        cfg['constructor'] = 'mmaction.MergedGroupsOptimWrapperConstructor'
    return build_optim_wrapper(net, cfg)


def _train(net, wrapper, steps, seed=1):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(5, 4, generator=gen)
        loss = (net(x) + net.rezero).square().mean()
        wrapper.update_params(loss)


@pytest.mark.parametrize('fused', [True, False])
def test_merged_groups_update_every_parameter_as_the_default_groups(fused):
    import movinet_mm  # noqa: F401  (registers the constructor)
    nets = [_net(), _net()]
    plain, merged = (_wrapper(n, m, fused) for n, m in zip(nets, (0, 1)))
    # one group per parameter vs one per set of options: decayed weights,
    # BN (no decay), rezero (20x lr)
    assert len(plain.optimizer.param_groups) == 7
    assert len(merged.optimizer.param_groups) == 3
    assert sorted(len(g['params']) for g in merged.optimizer.param_groups) \
        == [1, 2, 4]
    for net, wrapper in zip(nets, (plain, merged)):
        _train(net, wrapper, 3)
    for (name, a), (_, b) in zip(nets[0].named_parameters(),
                                 nets[1].named_parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_merged_groups_resume_a_checkpoint_of_unmerged_groups():
    import movinet_mm  # noqa: F401
    a, b = _net(), _net()
    plain = _wrapper(a, merged=False)
    _train(a, plain, 2)
    b.load_state_dict(a.state_dict())
    merged = _wrapper(b, merged=True)
    # a deep copy, as from a checkpoint file (the state tensors are shared)
    merged.load_state_dict(copy.deepcopy(plain.state_dict()))  # 7 -> 3
    assert len(merged.optimizer.param_groups) == 3
    _train(a, plain, 2, seed=2)
    _train(b, merged, 2, seed=2)
    for (name, x), (_, y) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)
    # and a merged checkpoint resumes a merged optimizer as usual
    again = _wrapper(_net(), merged=True)
    again.load_state_dict(merged.state_dict())
    with pytest.raises(ValueError, match='parameter groups'):
        _wrapper(torch.nn.Linear(2, 2), merged=True).load_state_dict(
            plain.state_dict())


def test_the_demo_config_merges_its_groups_and_the_benchmark_keeps_before():
    from movinet_mm.analysis.training_step import build
    model, wrappers = build()
    after, before = wrappers[False].optimizer, wrappers[True].optimizer
    params = list(model.parameters())
    assert len(before.param_groups) == len(params)  # MMEngine's default
    assert not before.defaults.get('fused')
    # decayed weights and the residual scales (no decay): two groups
    assert after.defaults['fused'] and len(after.param_groups) == 2
    assert sum(len(g['params']) for g in after.param_groups) == len(params)
