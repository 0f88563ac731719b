"""The TuNAS controller: independent categoricals trained by REINFORCE.

One logit vector per decision of the space, initialised at zero (uniform),
no RNN. A sample's log-probability and entropy are summed over the decisions
that shape its network (layers past a block's depth do not). The reward is
TuNAS's absolute reward ``R = Q + beta |cost / target - 1|`` (``beta < 0``);
the loss ``-(R - b) log p(arch)`` with ``b`` a moving average of the reward
(momentum 0.95). Optimised with Adam, beta1 = 0 (TuNAS).
"""
import math
from typing import Dict, Mapping, Optional

import torch
from torch import Tensor, nn

from .space import Architecture, SearchSpace


def absolute_reward(quality: float, cost: float, target: float,
                    beta: float) -> float:
    """TuNAS's absolute reward: ``quality + beta * |cost / target - 1|``."""
    if beta >= 0:
        raise ValueError(f'the cost weight beta must be < 0, got {beta}')
    if target <= 0:
        raise ValueError(f'the cost target must be > 0, got {target}')
    return float(quality) + beta * abs(cost / target - 1.0)


class Controller(nn.Module):
    """Independent categorical distributions over a space's decisions."""

    def __init__(self, space: SearchSpace, baseline_momentum: float = 0.95):
        super().__init__()
        if not 0.0 <= baseline_momentum < 1.0:
            raise ValueError('baseline_momentum must be in [0, 1), got '
                             f'{baseline_momentum}')
        self.space = space
        self.decisions = space.decisions()
        self.logits = nn.ParameterDict({
            d.name: nn.Parameter(torch.zeros(len(d.options)))
            for d in self.decisions})
        self.baseline_momentum = baseline_momentum
        self.register_buffer('baseline', torch.zeros(()))
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))

    def sample_indices(self, generator: Optional[torch.Generator] = None
                       ) -> Dict[str, int]:
        with torch.no_grad():
            return {d.name: int(torch.multinomial(
                torch.softmax(self.logits[d.name], 0), 1,
                generator=generator)) for d in self.decisions}

    def sample(self, generator: Optional[torch.Generator] = None
               ) -> Architecture:
        return self.space.decode(self.sample_indices(generator))

    def most_likely_indices(self) -> Dict[str, int]:
        return {d.name: int(self.logits[d.name].argmax())
                for d in self.decisions}

    def most_likely(self) -> Architecture:
        return self.space.decode(self.most_likely_indices())

    def log_prob(self, indices: Mapping[str, int]) -> Tensor:
        active = self.space.active(indices)
        terms = [torch.log_softmax(self.logits[name], 0)[indices[name]]
                 for name in self.logits if active[name]]
        return torch.stack(terms).sum()

    def entropy(self, indices: Optional[Mapping[str, int]] = None) -> Tensor:
        """Entropy summed over the decisions active in ``indices``, or over
        every decision when None (the whole distribution's)."""
        active = self.space.active(indices) if indices is not None else None
        terms = []
        for name, logits in self.logits.items():
            if active is None or active[name]:
                p = torch.softmax(logits, 0)
                terms.append(-(p * torch.log_softmax(logits, 0)).sum())
        return torch.stack(terms).sum()

    def reinforce_loss(self, indices: Mapping[str, int],
                       reward: float) -> Tensor:
        """``-(R - b) log p`` with the baseline before this reward; then
        moves the baseline towards ``reward``."""
        advantage = float(reward) - float(self.baseline)
        loss = -advantage * self.log_prob(indices)
        with torch.no_grad():
            m = self.baseline_momentum
            self.baseline.mul_(m).add_((1 - m) * float(reward))
            self.num_updates.add_(1)
        return loss

    def reinforce_loss_batch(self, samples, rewards) -> Tensor:
        """Mean of ``-(R_i - b) log p_i`` over several architectures scored
        on the same held-out batch (TuNAS draws one per accelerator), all
        against the baseline before them; then moves the baseline towards
        their mean reward."""
        if len(samples) != len(rewards) or not samples:
            raise ValueError('need one reward per sample, at least one')
        baseline = float(self.baseline)
        loss = torch.stack([-(float(r) - baseline) * self.log_prob(s)
                            for s, r in zip(samples, rewards)]).mean()
        with torch.no_grad():
            m = self.baseline_momentum
            mean = sum(float(r) for r in rewards) / len(rewards)
            self.baseline.mul_(m).add_((1 - m) * mean)
            self.num_updates.add_(1)
        return loss


def make_controller_optimizer(controller: Controller, lr: float,
                              beta2: float = 0.999,
                              eps: float = 1e-8) -> torch.optim.Adam:
    """Adam with beta1 = 0, as TuNAS."""
    if lr < 0 or not math.isfinite(lr):
        raise ValueError(f'controller lr must be >= 0, got {lr}')
    return torch.optim.Adam(controller.parameters(), lr=lr,
                            betas=(0.0, beta2), eps=eps)


__all__ = ['Controller', 'absolute_reward', 'make_controller_optimizer']
