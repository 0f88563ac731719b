"""The fast form of the training ops, and the plain reference form.

Activations of ``[N, C, T, H, W]`` videos are kept channels-last
(``torch.channels_last_3d``: memory ``[N, T, H, W, C]``), where every op of
a MoViNet is fast on CPU and no op needs a copy:

- a per-frame 2-D conv runs on the ``[N*T, C, H, W]`` channels-last view
  (oneDNN's channels-last depthwise kernels, several times faster than the
  NCHW ones, backward above all);
- a temporal ``(kt, 1)`` conv on the ``[N, C, T, H*W]`` channels-last view;
- a pointwise (1x1) conv is one matrix product, ``F.linear`` on the
  ``[N, T, H, W, C]`` view;
- a depthwise conv on frames smaller than its padding (5x5 kernels on the
  2x2 frames of the last stage at 40x40 input) gets its weight gradient
  from a small custom backward: oneDNN's falls back to a slow reference
  kernel there;
- BN, activations, SE gating and residual sums keep the layout; the SE's
  spatial mean is a scaled sum (its gradient a broadcast view, not a copy).

Hard swish is torch's single op (``F.hardswish``, forward and backward)
instead of four elementwise ops; hard sigmoid, which gates pooled vectors
only, keeps the official formula (its 0.16667 is not 1/6).

:func:`reference_ops` swaps the plain formulation back in (contiguous
``[N, C, T, H, W]``, the activations' official formulas): what the fast form
is tested and benchmarked against. Both compute the same function; they
differ by float rounding only.
"""
import contextlib
import functools
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

_reference = False


def fast_ops_enabled(x: Optional[Tensor] = None) -> bool:
    """Whether the layers run their fast form: always, except inside
    :func:`reference_ops` and while tracing (TorchScript); the
    channels-last layout (the ops that pass ``x``) only for tensors on the
    CPU, where it was measured."""
    if _reference or torch._C._is_tracing():
        return False
    return x is None or x.device.type == 'cpu'


@contextlib.contextmanager
def reference_ops(enabled: bool = True):
    """Run the layers in the plain reference formulation inside the block."""
    global _reference
    previous, _reference = _reference, enabled
    try:
        yield
    finally:
        _reference = previous


def channels_last(x: Tensor) -> Tensor:
    """``[N, C, T, H, W]`` ``x`` with memory ``[N, T, H, W, C]`` (no copy when
    it already is)."""
    return x.contiguous(memory_format=torch.channels_last_3d)


def frames_view(x: Tensor) -> Tensor:
    """``[N, C, T, H, W]`` -> ``[N*T, C, H, W]`` channels-last frames: a view of
    a channels-last ``x``, else one copy."""
    n, c, t, h, w = x.shape
    return x.permute(0, 2, 3, 4, 1).reshape(n * t, h, w, c).permute(0, 3, 1, 2)


def from_frames(y: Tensor, n: int) -> Tensor:
    """``[N*T, C, H, W]`` frames -> ``[N, C, T, H, W]`` (a view)."""
    return y.reshape(n, -1, *y.shape[1:]).transpose(1, 2)


def pointwise(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """A 1x1(x1) conv of ``[N, C, T, H, W]`` ``x`` as one matrix product on
    the channels-last view; the result is channels-last."""
    y = F.linear(x.permute(0, 2, 3, 4, 1),
                 weight.reshape(weight.shape[0], weight.shape[1]), bias)
    return y.permute(0, 4, 1, 2, 3)


@functools.lru_cache(maxsize=64)
def _tap_index(size: Tuple[int, int], kernel: Tuple[int, int],
               stride: Tuple[int, int], padding: Tuple[int, int]) -> Tensor:
    """``[H*W, H'*W']``: the kernel tap joining input pixel p to output pixel
    q of a 2-D conv, ``kh * kw`` where none does."""
    (h, w), (kh, kw), (sh, sw), (ph, pw) = size, kernel, stride, padding
    out_h = (h + 2 * ph - kh) // sh + 1
    out_w = (w + 2 * pw - kw) // sw + 1
    index = torch.full((h * w, out_h * out_w), kh * kw, dtype=torch.long)
    for oi in range(out_h):
        for oj in range(out_w):
            for i in range(kh):
                for j in range(kw):
                    ii, jj = oi * sh - ph + i, oj * sw - pw + j
                    if 0 <= ii < h and 0 <= jj < w:
                        index[ii * w + jj, oi * out_w + oj] = i * kw + j
    return index


class _SmallFrameDepthwise(torch.autograd.Function):
    """A depthwise conv on frames smaller than its padding (a 5x5 kernel on
    2x2 frames). oneDNN's weight gradient takes a slow reference kernel
    there; here it is the per-channel sum of products of each (input pixel,
    output pixel) pair, gathered into the kernel taps that join them."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.conv = (stride, padding, bias is not None)
        return F.conv2d(x, weight, bias, stride, padding, groups=x.shape[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, has_bias = ctx.conv
        n, c, h, w = x.shape
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, list(stride), list(padding), [1, 1],
                False, [0, 0], c, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            kh, kw = weight.shape[-2:]
            index = _tap_index((h, w), (kh, kw), stride, padding).to(x.device)
            xv = x.permute(0, 2, 3, 1).reshape(n, h * w, 1, c)
            gv = grad.permute(0, 2, 3, 1).reshape(n, 1, -1, c)
            pairs = (xv * gv).sum(0).reshape(-1, c)  # [P*Q, C]
            taps = pairs.new_zeros(kh * kw + 1, c).index_add_(
                0, index.reshape(-1), pairs)
            grad_w = taps[:-1].t().reshape(weight.shape)
        if has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None


def frame_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride,
                 padding, groups: int) -> Tensor:
    """``F.conv2d`` of channels-last frames ``[N*T, C, H, W]``."""
    stride, padding = pair(stride), pair(padding)
    h, w = x.shape[-2:]
    if (groups == x.shape[1] == weight.shape[0] and weight.shape[1] == 1
            and (padding[0] >= h or padding[1] >= w) and h * w <= 16
            and torch.is_grad_enabled()):
        return _SmallFrameDepthwise.apply(x, weight, bias, stride, padding)
    return F.conv2d(x, weight, bias, stride, padding, groups=groups)


def pair(value) -> Tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)
