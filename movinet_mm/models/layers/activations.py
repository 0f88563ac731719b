"""Activations with the official TensorFlow constants."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from .fast_ops import fast_ops_enabled


class HardSigmoid(nn.Module):
    """``relu6(x + 3) * 0.16667``: the official constant is not exactly 1/6.

    Neither torch's ``nn.Hardsigmoid`` (x / 6 + 0.5) nor Keras' legacy
    ``hard_sigmoid`` (0.2 x + 0.5) matches it.
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.relu6(x + 3.0) * 0.16667


class HardSwish(nn.Module):
    """``x * relu6(x + 3) / 6``, in the official operation order.

    The fast form (:mod:`.fast_ops`) is torch's one-op ``hardswish``: the
    same function, equal to float rounding; only its derivative exactly at
    the kinks x = -3 and x = 3 takes the other one-sided value."""

    def forward(self, x: Tensor) -> Tensor:
        if fast_ops_enabled():
            return F.hardswish(x)
        return x * F.relu6(x + 3.0) * (1.0 / 6.0)


_ACTIVATIONS = {
    'swish': nn.SiLU,
    'hard_swish': HardSwish,
    'sigmoid': nn.Sigmoid,
    'hard_sigmoid': HardSigmoid,
    'relu': nn.ReLU,
    'relu6': nn.ReLU6,
    'identity': nn.Identity,
}

ACTIVATION_NAMES = tuple(_ACTIVATIONS)


def inference_activation(act: Optional[nn.Module]) -> Optional[nn.Module]:
    """``act`` as a single exportable op where one exists (None for identity)."""
    if act is None or isinstance(act, nn.Identity):
        return None
    if isinstance(act, HardSwish):
        # x * relu6(x + 3) / 6 as one op (ONNX HardSwish, XNNPACK hardswish)
        return nn.Hardswish()
    return type(act)()  # HardSigmoid stays: 0.16667 is not 1/6


def build_activation(name: str) -> nn.Module:
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f'unknown activation {name!r}; expected one of '
                         f'{sorted(_ACTIVATIONS)}') from None
