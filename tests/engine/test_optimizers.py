"""The official recipe's optimizer details: Keras RMSprop and per-variable clipping."""
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
