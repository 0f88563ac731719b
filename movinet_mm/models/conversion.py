"""Weights across conv types: '3d_2plus1d' (training) <-> '2plus1d' (inference).

Both forms hold the same parameters; only the kernels' singleton dims differ
(a (1, kh, kw) ``Conv3d`` kernel is a (kh, kw) ``Conv2d`` kernel, a (kt, 1, 1)
one is a (kt, 1) one), like the official ``convert_3d_2plus1d.py``.
"""
from collections import OrderedDict
from typing import Mapping

from torch import Tensor, nn


def _squeezed(shape) -> tuple:
    return tuple(d for d in shape if d != 1)


def convert_conv_type(state_dict: Mapping[str, Tensor],
                      target: nn.Module) -> 'OrderedDict[str, Tensor]':
    """``state_dict`` reshaped to fit ``target``, a model of another conv type.

    Every key must exist on both sides and every tensor must equal its target
    up to singleton dimensions; anything else raises a ValueError listing
    the mismatches (nothing is converted partially).
    """
    expected = target.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    errors = [f'missing {k}' for k in missing[:5]]
    errors += [f'unexpected {k}' for k in unexpected[:5]]
    out = OrderedDict()
    for key, value in state_dict.items():
        if key not in expected:
            continue
        shape = expected[key].shape
        if value.shape == shape:
            out[key] = value
        elif _squeezed(value.shape) == _squeezed(shape):
            out[key] = value.reshape(shape)
        else:
            errors.append(f'{key}: {tuple(value.shape)} does not fit '
                          f'{tuple(shape)}')
    if errors:
        raise ValueError('cannot convert the weights to the target model: '
                         + '; '.join(errors))
    return out
