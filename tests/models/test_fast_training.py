"""The fast training form (movinet_mm.models.layers.fast_ops) computes what
the plain formulation does: outputs and parameter gradients of whole A0
models against a reference written here with the straightforward ops
(F.conv3d on contiguous videos, the official activation formulas)."""
import pytest
import torch
import torch.nn.functional as F

from movinet_mm.models import MoViNet
from movinet_mm.models.layers import HardSigmoid, HardSwish, SamePadAvgPool
from movinet_mm.models.layers.conv import (
    FrameConv2d,
    TimeConv2d,
    VideoConv3d,
    tf_same_padding,
)
from movinet_mm.models.layers.fast_ops import fast_ops_enabled, reference_ops
from movinet_mm.models.layers.pooling import _valid_cells

MODELS = {
    'a0_base_3d': dict(causal=False, conv_type='3d', se_type='3d',
                       activation='hard_swish',
                       gating_activation='hard_sigmoid'),
    'a0_stream_2plus1d': dict(causal=True, conv_type='2plus1d',
                              se_type='2plus3d', activation='hard_swish',
                              gating_activation='hard_sigmoid'),
    'a0_stream_3d_2plus1d': dict(causal=True, conv_type='3d_2plus1d',
                                 se_type='2plus3d', activation='hard_swish',
                                 gating_activation='hard_sigmoid'),
}


# ------------------------------------------------- the plain reference ops
def _frame_conv(self, x):
    return F.conv3d(x.contiguous(), self.weight.unsqueeze(2), self.bias,
                    (1, *self.stride), (0, *self.padding), groups=self.groups)


def _time_conv(self, x):
    return F.conv3d(x.contiguous(), self.weight.unsqueeze(-1), self.bias, 1,
                    (self.padding[0], 0, 0), groups=self.groups)


def _conv3d(self, x):
    return F.conv3d(x.contiguous(), self.weight, self.bias, self.stride,
                    self.padding, groups=self.groups)


def _avg_pool(self, x):
    h, w = x.shape[-2:]
    top, bottom = tf_same_padding(h, 3, 2)
    left, right = tf_same_padding(w, 3, 2)
    sums = F.avg_pool3d(F.pad(x.contiguous(), (left, right, top, bottom)),
                        (1, 3, 3), (1, 2, 2), divisor_override=1)
    rows = torch.tensor(_valid_cells(h, top, sums.shape[-2]), dtype=x.dtype)
    cols = torch.tensor(_valid_cells(w, left, sums.shape[-1]), dtype=x.dtype)
    return sums / (rows[:, None] * cols[None, :])


REFERENCE = {
    HardSwish: lambda self, x: x * F.relu6(x + 3.0) * (1.0 / 6.0),
    HardSigmoid: lambda self, x: F.relu6(x + 3.0) * 0.16667,
    FrameConv2d: _frame_conv,
    TimeConv2d: _time_conv,
    VideoConv3d: _conv3d,
    SamePadAvgPool: _avg_pool,
}


def run(model, x, head):
    """Features, loss and the gradient of every parameter."""
    model.zero_grad(set_to_none=True)
    features = model(x)
    loss = (features.mean(dim=(2, 3, 4)) @ head).square().sum()
    loss.backward()
    return features, {n: p.grad for n, p in model.named_parameters()}


def make_model(name, dtype):
    torch.manual_seed(0)
    model = MoViNet(arch='a0', norm_cfg=dict(type='BN3d', eps=1e-3,
                                             momentum=0.1), **MODELS[name])
    model.init_weights()
    with torch.no_grad():  # ReZero starts at 0: open every residual branch
        for n, p in model.named_parameters():
            if n.endswith('rezero'):
                p.uniform_(0.2, 1.0)
    return model.to(dtype).train()


def assert_same(fast, ref, rtol, atol=1e-8):
    out_fast, grads_fast = fast
    out_ref, grads_ref = ref
    torch.testing.assert_close(out_fast, out_ref, rtol=rtol,
                               atol=rtol * out_ref.abs().max().item())
    # The bias of a BN followed by another BN has a gradient of exactly 0
    # in exact arithmetic; its float value is rounding noise, so absolute
    # errors are judged against the largest gradient of the model (atol).
    scale = max(g.abs().max().item() for g in grads_ref.values())
    assert grads_fast.keys() == grads_ref.keys()
    for name, g in grads_ref.items():
        torch.testing.assert_close(grads_fast[name], g, rtol=rtol,
                                   atol=atol * scale, msg=name)


@pytest.mark.parametrize('name', list(MODELS))
def test_fast_form_equals_plain_ops(name, monkeypatch):
    """float64, so that any difference beyond rounding shows at 1e-5."""
    assert fast_ops_enabled()  # the default
    model = make_model(name, torch.float64)
    keys = list(model.state_dict())
    torch.manual_seed(1)
    x = torch.rand(2, 3, 3, 37, 41, dtype=torch.float64)
    head = torch.randn(model.out_channels, 5, dtype=torch.float64)

    fast = run(model, x, head)
    assert fast[0].is_contiguous(memory_format=torch.channels_last_3d)
    with reference_ops():  # the benchmark's "before"
        before = run(model, x, head)
    for cls, forward in REFERENCE.items():
        monkeypatch.setattr(cls, 'forward', forward)
    plain = run(model, x, head)
    assert plain[0].is_contiguous()

    assert_same(fast, plain, rtol=1e-5)
    assert_same(before, plain, rtol=1e-5)
    assert list(model.state_dict()) == keys


def test_fast_form_float32():
    """The training dtype: equal up to float32 rounding."""
    model = make_model('a0_stream_2plus1d', torch.float32)
    torch.manual_seed(1)
    x = torch.rand(2, 3, 3, 37, 41)
    head = torch.randn(model.out_channels, 5)
    fast = run(model, x, head)
    with reference_ops():
        ref = run(model, x, head)
    assert_same(fast, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('cls', [HardSwish, HardSigmoid])
def test_hard_activations_match_official_formulas(cls):
    x = torch.linspace(-5, 5, 10001, dtype=torch.float64).requires_grad_()
    act = cls()
    y = act(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    with reference_ops():
        y_ref = act(x)
        (g_ref,) = torch.autograd.grad(y_ref.sum(), x)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-12)
    # the official formulas' derivative at the kinks x = -3 and x = 3 (a
    # choice of subgradient) may differ; everywhere else it is the same
    kinks = (x.detach().abs() - 3).abs() < 1e-9
    torch.testing.assert_close(g[~kinks], g_ref[~kinks], rtol=1e-5,
                               atol=1e-12)
