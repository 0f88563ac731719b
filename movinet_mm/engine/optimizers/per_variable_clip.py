"""Keras-style gradient clipping: each variable's gradient on its own."""
import torch
from mmaction.registry import OPTIM_WRAPPERS
from mmengine.optim import AmpOptimWrapper, OptimWrapper


class _PerVariableClip:
    """Clips the gradient of every parameter separately.

    Keras' ``clipnorm`` (the official recipe's ``clipnorm: 1.0``) clips each
    variable's gradient to the norm; MMEngine's ``OptimWrapper`` clips the
    global norm of all of them together. Logs the global norm before
    clipping as ``grad_norm``, like MMEngine.
    """

    def _clip_grad(self) -> None:
        norms = []
        for group in self.optimizer.param_groups:
            for p in group['params']:
                if p.requires_grad and p.grad is not None:
                    norm = self.clip_func([p], **self.clip_grad_kwargs)
                    if norm is not None:
                        norms.append(norm.detach().float())
        if norms:
            total = torch.stack(norms).square().sum().sqrt()
            self.message_hub.update_scalar(f'train/{self.grad_name}',
                                           float(total))


@OPTIM_WRAPPERS.register_module()
class PerVariableClipOptimWrapper(_PerVariableClip, OptimWrapper):
    """``OptimWrapper`` with Keras-style per-variable gradient clipping."""


@OPTIM_WRAPPERS.register_module()
class PerVariableClipAmpOptimWrapper(_PerVariableClip, AmpOptimWrapper):
    """``AmpOptimWrapper`` (gradients unscaled first) with per-variable clipping."""
