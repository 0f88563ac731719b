"""RMSprop as TensorFlow/Keras computes it, for the official MoViNet recipe."""
import torch
from mmaction.registry import OPTIMIZERS
from torch.optim import Optimizer


@OPTIMIZERS.register_module()
class TFRMSprop(Optimizer):
    """Keras' RMSprop with momentum (the official MoViNet optimizer).

    Differs from ``torch.optim.RMSprop`` where it matters with the recipe's
    ``epsilon=1.0``: epsilon goes inside the square root, and the learning
    rate scales the step before it enters the momentum buffer::

        ms  = rho * ms + (1 - rho) * g^2
        mom = momentum * mom + lr * g / sqrt(ms + eps)
        w  -= mom

    ``weight_decay`` is an L2 term added to the gradient (``g += wd * w``),
    as Keras' kernel regularizers do.
    """

    def __init__(self, params, lr: float, rho: float = 0.9,
                 momentum: float = 0.9, eps: float = 1.0,
                 weight_decay: float = 0.0):
        for name, value in (('lr', lr), ('rho', rho), ('momentum', momentum),
                            ('eps', eps), ('weight_decay', weight_decay)):
            if value < 0:
                raise ValueError(f'{name} must be >= 0, got {value}')
        super().__init__(params, dict(lr=lr, rho=rho, momentum=momentum,
                                      eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                grad = p.grad
                if group['weight_decay']:
                    grad = grad.add(p, alpha=group['weight_decay'])
                state = self.state[p]
                if not state:
                    state['ms'] = torch.zeros_like(p)
                    state['mom'] = torch.zeros_like(p)
                ms, mom = state['ms'], state['mom']
                ms.mul_(group['rho']).addcmul_(grad, grad,
                                               value=1 - group['rho'])
                step = grad * group['lr'] / (ms + group['eps']).sqrt()
                mom.mul_(group['momentum']).add_(step)
                p.sub_(mom)
        return loss
