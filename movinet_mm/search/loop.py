"""The TuNAS search as an MMEngine train loop (``train_cfg.type='TuNASSearchLoop'``).

Each iteration: one shared-weight step of the supernet (the runner's model,
optimizer wrapper and schedulers) on a training batch with an architecture
sampled from the controller, then one REINFORCE step of the controller on a
held-out batch (``controller_dataloader``) with a second sample: reward
``top-1 + beta |MACs / target - 1|``. During the first ``warmup_ratio`` of
the iterations the controller's lr is 0 and, with a probability falling
linearly from 1 to 0, the shared step runs every kernel (op warm-up) and
the widest filters (filter warm-up).

Multi-process (``--launcher pytorch``/``slurm``): every rank draws the same
architectures (one generator seeded by ``(seed, iteration)``), the held-out
quality is averaged across ranks and the controller's logits broadcast from
rank 0 at the start, so every rank makes the same controller update and the
logits stay identical. Checkpoints (CheckpointHook / ``save_checkpoint``)
carry the controller, its optimizer, the baseline, the space / target and
every rank's global RNG states (torch, CUDA, numpy, python) under
``checkpoint['search']``; resuming checks the space and target, replays the
data loaders to the checkpoint and then restores the RNG states, so that a
resumed search equals an uninterrupted one.

``cost_only=True`` drops the quality term (reward ``beta |MACs / target -
1|``): a baseline that shows what the cost term alone finds. Nothing of
the supernet matters to that controller, so the loop skips the
shared-weight steps and the held-out batches (no quality is computed; the
supernet stays at its initialisation and nothing is monitored). Its
outputs say so: ``"cost_only": true`` in ``searched_arch.json`` (false in
a normal search; :func:`load_result` gives false for files written before
the field), ``searched_architecture.cost_only`` and a first comment line in
``searched_config.py``, ``cost_only`` in every ``search_log.jsonl`` record
and "cost-only search" in the closing log line.

Supernet top-1 over the search: every 10% of ``max_iters`` (and at the
end) the loop scores ``monitor_archs`` fixed architectures (drawn once
with a generator of their own, within +-10% of the target where the space
has them) on ``monitor_batches`` fixed held-out batches with the shared
weights and BN on the batch statistics
(:func:`~movinet_mm.search.ranking.supernet_scores`), and records the mean
top-1 (``supernet_top1`` in ``searched_arch.json``, a record with
``"event": "supernet_top1"`` in ``search_log.jsonl``, the checkpoints).
It draws nothing from the global RNGs (their states are restored around
it), so a resumed search still equals an uninterrupted one.

In a ``by_epoch=False`` scheduler of ``param_scheduler``, a float ``begin``,
``end`` or ``T_max`` is a fraction of ``max_iters`` (converted when the loop
is built): the supernet's schedule follows ``train_cfg.max_iters``.

At the end rank 0 writes to the work dir ``searched_arch.json`` (the most
likely architecture, its MACs and network settings) and
``searched_config.py`` (a ready config that trains it from scratch).
"""
import copy
import json
import logging
import math
import os
import os.path as osp
import random
from typing import Dict, Optional, Union

import numpy as np
import torch
from mmengine import dist
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import LOOPS
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from ..utils.files import write_text_atomic
from .controller import Controller, absolute_reward, make_controller_optimizer
from .cost import cost_range, total_macs
from .space import Architecture
from .supernet import MoViNetSupernet, max_frames_needed

ARCH_FILE = 'searched_arch.json'
CONFIG_FILE = 'searched_config.py'
LOG_FILE = 'search_log.jsonl'


def _size(option):
    """An option's order for "largest": a kernel by its volume."""
    if isinstance(option, (tuple, list)):
        volume = 1
        for k in option:
            volume *= k
        return volume, tuple(option)
    return option


class SearchStateHook(Hook):
    """Saves and restores the loop's search state with the checkpoints."""

    priority = 'VERY_HIGH'

    def __init__(self, loop: 'TuNASSearchLoop'):
        self.loop = loop

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['search'] = self.loop.search_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loop.load_search_state(checkpoint.get('search'))


class CachedBatches:
    """An endless iterator over a dataloader's batches, decoded once: the
    first pass is kept and then cycled in the same order."""

    def __init__(self, dataloader):
        self._iterator = iter(dataloader)
        self._batches = []
        self._index = None  # into _batches, once the first pass is over

    def __iter__(self):
        return self

    def __next__(self):
        if self._index is None:
            try:
                batch = next(self._iterator)
            except StopIteration:
                if not self._batches:
                    raise ValueError('the held-out dataloader gives no '
                                     'batches') from None
                self._iterator, self._index = None, 0
            else:
                self._batches.append(batch)
                return batch
        batch = self._batches[self._index % len(self._batches)]
        self._index += 1
        return batch


@LOOPS.register_module()
class TuNASSearchLoop(IterBasedTrainLoop):
    """TuNAS on a :class:`MoViNetSupernet`.

    Args:
        runner, dataloader, max_iters, val_begin, val_interval: as
            ``IterBasedTrainLoop`` (the dataloader gives the shared-weight
            batches).
        controller_dataloader (dict | DataLoader): held-out batches.
        target_gmacs (float): the cost target T0, GMACs per clip (the
            supernet's network on the architecture's input).
        cost_beta (float): beta < 0 of the absolute reward.
        controller_lr (float): Adam (beta1 = 0) lr after the warm-up.
        warmup_ratio (float): fraction of the iterations with controller lr
            0 and the op / filter warm-ups.
        op_warmup, filter_warmup (bool): the two warm-ups.
        largest_warmup (float): fraction of the iterations (from the first)
            whose shared step trains the largest network: every width,
            expansion and depth at its largest, and with nested kernels the
            largest kernel (separate kernels stay sampled): the first stage
            of OFA's progressive shrinking. On the demo's space the supernet
            leaves chance far sooner with it than with paths sampled from
            the start.
        score_during_warmup (bool): False: while the controller's lr is 0
            the held-out scoring is skipped (it would only move the
            baseline); the baseline starts at the first scored rewards'
            mean.
        cache_held_out (bool): decode the held-out split once and cycle over
            its batches (for a small split read by a deterministic, test-mode
            pipeline, where decoding each batch again costs more than scoring
            it).
        baseline_momentum (float): of the reward's moving average.
        controller_samples (int): architectures drawn and scored on each
            held-out batch; the controller step averages their REINFORCE
            terms (TuNAS draws one per accelerator core: more samples, less
            noise per step).
        seed (int): of the architecture draws.
        cost_only (bool): reward without the quality term; the shared-weight
            steps and quality evaluations are skipped (see the module
            docstring); the outputs are marked ``cost_only``.
        monitor_archs (int): architectures whose shared-weight held-out
            top-1 is recorded every 10% of the iterations (0: none).
        monitor_batches (int): held-out batches (of the controller
            dataloader's batch size, fixed for the whole search) they are
            scored on.
        train_config (str, optional): the config whose data and schedule
            ``searched_config.py`` takes (the model is replaced by the found
            architecture, the pipelines get its frames and resolution).
            Resolved when the loop is built (see
            :func:`resolve_train_config`); not found is an error then.
    """

    def __init__(self,
                 runner,
                 dataloader,
                 max_iters: int,
                 controller_dataloader,
                 target_gmacs: float,
                 cost_beta: float = -0.1,
                 controller_lr: float = 0.05,
                 warmup_ratio: float = 0.25,
                 op_warmup: bool = True,
                 filter_warmup: bool = True,
                 baseline_momentum: float = 0.95,
                 controller_samples: int = 1,
                 seed: int = 0,
                 train_config: Optional[str] = None,
                 cost_only: bool = False,
                 largest_warmup: float = 0.0,
                 score_during_warmup: bool = True,
                 cache_held_out: bool = False,
                 monitor_archs: int = 4,
                 monitor_batches: int = 1,
                 val_begin: int = 1,
                 val_interval: int = 10**9):
        super().__init__(runner, dataloader, max_iters, val_begin,
                         val_interval)
        supernet = self.supernet
        if not isinstance(supernet, MoViNetSupernet):
            raise TypeError('TuNASSearchLoop needs model.type='
                            f"'MoViNetSupernet', got {type(supernet).__name__}")
        if cost_beta >= 0:
            raise ValueError(f'cost_beta must be < 0, got {cost_beta}')
        if not 0.0 <= warmup_ratio < 1.0:
            raise ValueError(f'warmup_ratio must be in [0, 1), got '
                             f'{warmup_ratio}')
        self.space = supernet.space
        self.cost_kwargs = dict(causal=supernet.network['causal'],
                                conv_type=supernet.network['conv_type'],
                                se_type=supernet.network['se_type'],
                                num_classes=supernet.num_classes)
        low, high = cost_range(self.space, **self.cost_kwargs)
        self.target_macs = float(target_gmacs) * 1e9
        if not low <= self.target_macs <= high:
            raise ValueError(
                f'cost target {target_gmacs:g} GMACs is outside what the '
                f'search space reaches: {low / 1e9:.4g} to {high / 1e9:.4g} '
                'GMACs per clip (its smallest and largest networks at its '
                'input choices)')
        if int(controller_samples) < 1:
            raise ValueError('controller_samples must be >= 1, got '
                             f'{controller_samples}')
        self.controller_samples = int(controller_samples)
        self.cost_beta = cost_beta
        self.controller_lr = controller_lr
        self.warmup_ratio = warmup_ratio
        self.op_warmup, self.filter_warmup = op_warmup, filter_warmup
        if not 0.0 <= largest_warmup < 1.0:
            raise ValueError(f'largest_warmup must be in [0, 1), got '
                             f'{largest_warmup}')
        self.largest_warmup = largest_warmup
        self.score_during_warmup = bool(score_during_warmup)
        self.seed = seed
        self.cost_only = bool(cost_only)
        if int(monitor_archs) < 0 or int(monitor_batches) < 1:
            raise ValueError('monitor_archs must be >= 0 and monitor_batches '
                             f'>= 1, got {monitor_archs} and '
                             f'{monitor_batches}')
        self.monitor_archs = 0 if self.cost_only else int(monitor_archs)
        self.monitor_batches = int(monitor_batches)
        self._monitor = None  # (architectures, held-out batches), lazily
        self.supernet_top1 = []
        # resolved now: a missing file must not surface after the search
        self.train_config = resolve_train_config(
            train_config, getattr(runner.cfg, 'filename', None)
        ) if train_config else None
        convert_fractional_schedulers(runner, self.max_iters)
        self.controller = Controller(self.space, baseline_momentum)
        self.controller_optimizer = make_controller_optimizer(
            self.controller, controller_lr)
        if isinstance(controller_dataloader, dict):
            controller_dataloader = runner.build_dataloader(
                controller_dataloader, seed=runner.seed)
        self.controller_dataloader = controller_dataloader
        self.controller_iterator = (
            CachedBatches(controller_dataloader) if cache_held_out else
            _InfiniteDataloaderIterator(controller_dataloader))
        self._check_clip_length()
        self._resume_rng = None
        self._iter_end_rng = None
        runner.register_hook(SearchStateHook(self))
        # untrained weights make denormals, which crawl on CPUs
        torch.set_flush_denormal(True)

    # ------------------------------------------------------------ helpers
    @property
    def supernet(self) -> MoViNetSupernet:
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def _check_clip_length(self) -> None:
        needed = max_frames_needed(self.space)
        for name, loader in (('train_dataloader', self.dataloader),
                             ('controller_dataloader',
                              self.controller_dataloader)):
            for step in loader.dataset.pipeline.transforms:
                clip_len = getattr(step, 'clip_len', None)
                if type(step).__name__ == 'SampleFrames' and \
                        clip_len is not None and clip_len < needed:
                    raise ValueError(
                        f'{name} samples clips of {clip_len} frames but the '
                        f'space needs {needed} ((max frames - 1) x max '
                        'frame stride + 1): raise its SampleFrames clip_len')

    def macs(self, architecture: Architecture) -> int:
        return total_macs(architecture.arch, architecture.frames,
                          architecture.resolution, **self.cost_kwargs)

    def _generator(self, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + step)

    def warmup_probability(self, step: int) -> float:
        """1 at step 0, falling linearly to 0 at the end of the warm-up."""
        if self.warmup_ratio == 0:
            return 0.0
        return max(0.0, 1.0 - step / (self.warmup_ratio * self.max_iters))

    def controller_start(self) -> int:
        """The first iteration with a controller lr above 0."""
        return math.ceil(self.warmup_ratio * self.max_iters)

    def scores(self, step: int) -> bool:
        """Whether iteration ``step`` scores architectures on a held-out
        batch (and draws one)."""
        return not self.cost_only and (self.score_during_warmup
                                       or step >= self.controller_start())

    def _widest(self, indices: Dict[str, int],
                deepest: bool = False) -> Dict[str, int]:
        """Widths and expansions (and with ``deepest`` depths) at their
        largest; with ``deepest`` and nested kernels, the largest kernel
        too: every other kernel is a crop of it, so the warm-up trains one
        fixed network, which leaves chance far sooner than one with sampled
        kernels; separate kernels stay sampled, or all but one would go
        untrained."""
        suffixes = ('_width', '_expansion')
        if deepest:
            suffixes += ('_depth', )
            if getattr(self.supernet, 'kernel_sharing', None) == 'nested':
                suffixes += ('_kernel', )
        out = dict(indices)
        for d in self.space.decisions():
            if d.name.endswith(suffixes):
                out[d.name] = max(range(len(d.options)),
                                  key=lambda k: _size(d.options[k]))
        return out

    # --------------------------------------------------------- the search
    def run(self):
        """``IterBasedTrainLoop.run`` with the search's resume step."""
        runner = self.runner
        if dist.get_world_size() > 1:
            for p in self.controller.parameters():
                dist.broadcast(p.data, 0)
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._fast_forward()
        while self._iter < self._max_iters and not self.stop_training:
            runner.model.train()
            # cost-only: no shared-weight step, so no training batch
            self.run_iter(None if self.cost_only else
                          next(self.dataloader_iterator))
            self._decide_current_val_interval()
            if (runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                runner.val_loop.run()
        runner.call_hook('after_train_epoch')
        runner.call_hook('after_train')
        if dist.get_rank() == 0:
            self.write_outputs()
        dist.barrier()
        return runner.model

    def _fast_forward(self) -> None:
        """Resuming at ``self._iter``: both data streams continue where they
        stopped, then the global RNGs where they were at the checkpoint.

        Without the restore, torch's global RNG would continue from the
        model's initialisation: the skipped iterations' dropout draws (in
        ``train_step`` and ``quality``) are not replayed, so every later
        dropout mask, quality, reward and controller update would differ.
        Replaying the batches also draws (a torch draw per new DataLoader
        iterator; the pipelines' numpy draws when ``num_workers=0``)."""
        print_log(f'Advance the dataloaders {self._iter} steps to skip data '
                  'that has already been used', logger='current',
                  level=logging.WARNING)
        for step in range(0 if self.cost_only else self._iter):
            next(self.dataloader_iterator)
            if self.scores(step):
                next(self.controller_iterator)
        states, self._resume_rng = self._resume_rng, None
        if states is None:
            print_log('the checkpoint has no RNG states for this rank: the '
                      'resumed search draws other dropout masks and '
                      'augmentations than an uninterrupted one',
                      logger='current', level=logging.WARNING)
        else:
            set_rng_states(states)

    def run_iter(self, data_batch) -> None:
        runner, step = self.runner, self._iter
        runner.call_hook('before_train_iter', batch_idx=step,
                         data_batch=data_batch)
        gen = self._generator(step)
        coin = random.Random(self.seed * 1_000_003 + step)
        warm_p = self.warmup_probability(step)

        # 1. shared weights, on a training batch
        indices = self.controller.sample_indices(gen)
        if self.filter_warmup and coin.random() < warm_p:
            indices = self._widest(indices)
        if step < self.largest_warmup * self.max_iters:
            indices = self._widest(indices, deepest=True)
        all_ops = self.op_warmup and coin.random() < warm_p
        if self.cost_only:  # the controller never sees the supernet
            outputs = {}
        else:
            shared_arch = self.space.decode(indices)
            self.supernet.set_architecture(shared_arch, all_ops)
            outputs = runner.model.train_step(
                data_batch, optim_wrapper=runner.optim_wrapper)

        # 2. controller, on a held-out batch (cost-only: none needed)
        scored = self.scores(step)
        held_out = self.supernet.data_preprocessor(
            next(self.controller_iterator), True) if scored else None
        samples, rewards, qualities, costs = [], [], [], []
        for _ in range(self.controller_samples):
            c_indices = self.controller.sample_indices(gen)
            c_arch = self.space.decode(c_indices)
            cost = self.macs(c_arch)
            samples.append(c_indices)
            costs.append(cost)
            if not scored:
                rewards.append(absolute_reward(0.0, cost, self.target_macs,
                                               self.cost_beta))
                continue
            quality = self.supernet.quality(held_out, c_arch)
            if dist.get_world_size() > 1:
                dist.all_reduce(quality, op='mean')
            qualities.append(float(quality))
            rewards.append(absolute_reward(float(quality), cost,
                                           self.target_macs, self.cost_beta))
        in_warmup = step < self.controller_start()
        lr = 0.0 if in_warmup else self.controller_lr
        if not self.score_during_warmup and step == self.controller_start():
            self.controller.baseline.fill_(sum(rewards) / len(rewards))
        for group in self.controller_optimizer.param_groups:
            group['lr'] = lr
        self.controller_optimizer.zero_grad()
        self.controller.reinforce_loss_batch(samples, rewards).backward()
        self.controller_optimizer.step()
        c_arch = self.space.decode(samples[0])
        cost = sum(costs) / len(costs)
        quality = sum(qualities) / len(qualities) if qualities else None
        reward = sum(rewards) / len(rewards)

        best = self.controller.most_likely()
        best_macs = self.macs(best)
        with torch.no_grad():
            entropy = float(self.controller.entropy())
        outputs = dict(outputs)
        outputs.update(
            sampled_gmacs=cost / 1e9, reward=reward,
            baseline=float(self.controller.baseline), entropy=entropy,
            best_gmacs=best_macs / 1e9, controller_lr=lr)
        if quality is not None:
            outputs['quality'] = quality
        if dist.get_rank() == 0:
            self._log_step(step, c_arch, cost, quality, reward,
                           entropy, best, best_macs, all_ops)
            if self._monitor_due(step):
                self._monitor_step(step, lr)
        # every rank's RNG states, for a checkpoint saved in the hooks below:
        # gathered here, as only rank 0 calls before_save_checkpoint
        self._iter_end_rng = dist.all_gather_object(get_rng_states())
        runner.call_hook('after_train_iter', batch_idx=step,
                         data_batch=data_batch, outputs=outputs)
        self._iter += 1

    def _log_step(self, step, arch, cost, quality, reward, entropy, best,
                  best_macs, all_ops) -> None:
        record = dict(iter=step + 1, sampled_gmacs=cost / 1e9,
                      quality=quality, reward=reward, entropy=entropy,
                      baseline=float(self.controller.baseline),
                      most_likely_gmacs=best_macs / 1e9,
                      most_likely=best.describe(), op_warmup=all_ops,
                      cost_only=self.cost_only)
        with open(osp.join(self.runner.work_dir, LOG_FILE), 'a') as f:
            f.write(json.dumps(record) + '\n')
        interval = self.runner.cfg.get('default_hooks', {}).get(
            'logger', {}).get('interval', 10)
        if (step + 1) % max(int(interval), 1) == 0 or \
                step + 1 == self.max_iters:
            print_log(f'search iter {step + 1}: most likely '
                      f'{best_macs / 1e9:.4f} GMACs (target '
                      f'{self.target_macs / 1e9:.4f}): {best.describe()}',
                      logger='current')

    # --------------------------------------------- supernet top-1 monitor
    def _monitor_due(self, step: int) -> bool:
        """After every 10% of the iterations, and after the last."""
        if self.monitor_archs == 0:
            return False
        done = step + 1
        every = max(1, int(math.floor(0.1 * self.max_iters + 0.5)))
        return done % every == 0 or done == self.max_iters

    def monitor_architectures(self, draws: int = 5000) -> list:
        """``monitor_archs`` architectures drawn from the space with a
        generator of their own (seeded by ``seed``): the first within +-10%
        of the target; short of that, the closest to it of ``draws``."""
        rng = random.Random(self.seed * 7919 + 17)
        near, others = [], []
        for _ in range(draws):
            arch = self.space.sample(rng)
            off = abs(self.macs(arch) / self.target_macs - 1)
            (near if off <= 0.1 else others).append((off, arch))
            if len(near) >= self.monitor_archs:
                break
        others.sort(key=lambda o: o[0])
        picked = near + others[:max(0, self.monitor_archs - len(near))]
        return [arch for _, arch in picked[:self.monitor_archs]]

    def _monitor_data(self) -> list:
        """``monitor_batches`` held-out batches: a fixed random subset of
        the controller dataloader's data set (its own generator; the
        pipelines' draws from seeded global RNGs, restored afterwards)."""
        loader = self.controller_dataloader
        dataset, size = loader.dataset, loader.batch_size or 1
        n = min(len(dataset), self.monitor_batches * size)
        order = torch.randperm(len(dataset), generator=torch.Generator(
        ).manual_seed(self.seed))[:n].tolist()
        states = get_rng_states()
        batches = []
        try:
            torch.manual_seed(self.seed)
            np.random.seed(self.seed)
            random.seed(self.seed)
            for start in range(0, n, size):
                items = [dataset[i] for i in order[start:start + size]]
                batches.append(self.supernet.data_preprocessor(
                    loader.collate_fn(items), False))
        finally:
            set_rng_states(states)
        return batches

    def _monitor_step(self, step: int, lr: float) -> None:
        """Score the monitored architectures and record their mean top-1
        (the global RNG states as before: nothing is drawn from them)."""
        from .ranking import supernet_scores
        if self._monitor is None:
            self._monitor = (self.monitor_architectures(),
                             self._monitor_data())
        archs, batches = self._monitor
        states = get_rng_states()
        try:
            scores = supernet_scores(self.supernet, archs, batches)
        finally:
            set_rng_states(states)
        record = dict(iter=step + 1, fraction=(step + 1) / self.max_iters,
                      top1=sum(scores) / len(scores), controller_lr=lr)
        self.supernet_top1.append(record)
        with open(osp.join(self.runner.work_dir, LOG_FILE), 'a') as f:
            f.write(json.dumps(dict(record, event='supernet_top1',
                                    per_architecture=scores)) + '\n')
        print_log(f'search iter {step + 1}: supernet top-1 '
                  f"{record['top1']:.3f} (mean of {len(scores)} fixed "
                  'architectures on the held-out batches)', logger='current')

    # ------------------------------------------------------- checkpoints
    def _identity(self) -> dict:
        return dict(space=self.space.to_dict(), target_macs=self.target_macs,
                    network=dict(self.supernet.network),
                    num_classes=self.supernet.num_classes)

    def search_state(self) -> dict:
        return dict(self._identity(),
                    controller=self.controller.state_dict(),
                    controller_optimizer=(
                        self.controller_optimizer.state_dict()),
                    # saved from after_train_iter, as the runner's meta
                    iter=self._iter + 1,
                    rng=self._iter_end_rng,
                    cost_only=self.cost_only,
                    supernet_top1=list(self.supernet_top1))

    def load_search_state(self, state: Optional[dict]) -> None:
        if state is None:
            raise ValueError('the checkpoint has no search state (it was not '
                             'written by TuNASSearchLoop): cannot resume a '
                             'search from it')
        mine = self._identity()
        if state['space'] != mine['space']:
            changed = sorted(k for k in mine['space']
                             if state['space'].get(k) != mine['space'][k])
            raise ValueError('cannot resume: the checkpoint was searched in '
                             f'another space (fields {changed} differ)')
        if abs(state['target_macs'] - mine['target_macs']) > 0.5:
            raise ValueError(
                'cannot resume: the checkpoint searched for a cost target of '
                f"{state['target_macs'] / 1e9:g} GMACs, this config asks "
                f"{mine['target_macs'] / 1e9:g}")
        for key in ('network', 'num_classes'):
            if state[key] != mine[key]:
                raise ValueError(f'cannot resume: the checkpoint {key} '
                                 f'{state[key]} differs from {mine[key]}')
        if bool(state.get('cost_only', False)) != self.cost_only:
            raise ValueError(
                'cannot resume: the checkpoint is of a '
                f"{'cost-only' if state.get('cost_only') else 'normal'} "
                'search, this config asks for a '
                f"{'cost-only' if self.cost_only else 'normal'} one "
                '(train_cfg.cost_only)')
        self.controller.load_state_dict(state['controller'])
        self.supernet_top1 = list(state.get('supernet_top1', []))
        self.controller_optimizer.load_state_dict(
            state['controller_optimizer'])
        # restored by run() once the data streams are replayed (resume only:
        # load_from alone starts at iteration 0 with fresh streams)
        rng = state.get('rng')
        same_ranks = rng is not None and len(rng) == dist.get_world_size()
        self._resume_rng = rng[dist.get_rank()] if same_ranks else None

    # ----------------------------------------------------------- outputs
    def result(self) -> dict:
        best = self.controller.most_likely()
        macs = self.macs(best)
        return dict(architecture=best.to_dict(), macs=macs, gmacs=macs / 1e9,
                    target_gmacs=self.target_macs / 1e9,
                    within=abs(macs / self.target_macs - 1),
                    network=dict(self.supernet.network),
                    num_classes=self.supernet.num_classes,
                    norm_cfg=self.supernet.norm_cfg,
                    dropout_ratio=self.supernet.dropout_ratio,
                    iterations=self._iter,
                    cost_only=self.cost_only,
                    supernet_top1=list(self.supernet_top1))

    def write_outputs(self) -> dict:
        result = self.result()
        work_dir = self.runner.work_dir
        write_text_atomic(osp.join(work_dir, ARCH_FILE),
                     json.dumps(result, indent=1))
        if self.train_config:
            cfg = searched_config(self.train_config, result)
            text = cfg.pretty_text
            if self.cost_only:
                text = ('# cost-only search (train_cfg.cost_only=True): the '
                        'reward had no quality term\n' + text)
            write_text_atomic(osp.join(work_dir, CONFIG_FILE), text)
        kind = 'cost-only search done (no quality term in the reward)' \
            if self.cost_only else 'search done'
        print_log(f'{kind}: most likely architecture '
                  f"{result['gmacs']:.4f} GMACs (target "
                  f"{result['target_gmacs']:.4f}): "
                  f"{Architecture.from_dict(result['architecture']).describe()}"
                  f'; written to {osp.join(work_dir, ARCH_FILE)}',
                  logger='current')
        return result


def get_rng_states() -> dict:
    """The global RNG states (plain types: checkpoints load them anywhere)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states = dict(torch=torch.get_rng_state(), python=random.getstate(),
                  numpy=(kind, keys.tolist(), pos, has_gauss, gauss))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state()
    return states


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states['torch'].cpu())
    random.setstate(states['python'])
    kind, keys, pos, has_gauss, gauss = states['numpy']
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos,
                         has_gauss, gauss))
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states['cuda'].cpu())


def resolve_train_config(path: str, config_file: Optional[str] = None) -> str:
    """``path`` as given (absolute, or relative to the working directory),
    else relative to the directory of ``config_file`` (the search config),
    else relative to the installed package's ``.mim`` (a repository-relative
    ``configs/...``) or ``.mim/configs``. Absolute; FileNotFoundError (one
    line, the places looked in) if none is a file."""
    candidates = [path]
    if not osp.isabs(path):
        if config_file:
            candidates.append(osp.join(
                osp.dirname(osp.abspath(config_file)), path))
        mim = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                       '.mim')
        if osp.isdir(osp.join(mim, 'configs')):
            candidates += [osp.join(mim, path),
                           osp.join(mim, 'configs', path)]
    for candidate in candidates:
        if osp.isfile(candidate):
            return osp.abspath(candidate)
    looked = ', '.join(osp.abspath(c) for c in candidates)
    raise FileNotFoundError(f'train_cfg.train_config {path} not found (looked '
                            f'for {looked}): give an absolute path or one '
                            'relative to the search config')


def convert_fractional_schedulers(runner, max_iters: int) -> None:
    """Float ``begin`` / ``end`` / ``T_max`` of the ``by_epoch=False``
    schedulers in the runner's (not yet built) ``param_scheduler`` are
    fractions of ``max_iters``: made iterations here, before the runner
    builds them (``Runner.train`` builds the loop first)."""
    def convert(scheduler):
        if not isinstance(scheduler, dict) or scheduler.get('by_epoch', True):
            return scheduler
        scheduler = copy.deepcopy(scheduler)
        converted = False
        for key in ('begin', 'end', 'T_max'):
            value = scheduler.get(key)
            if not isinstance(value, float):
                continue
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"param_scheduler {scheduler['type']} {key}={value}: a "
                    'float begin/end/T_max of a by_epoch=False scheduler is '
                    'a fraction of train_cfg.max_iters, in [0, 1] (an int '
                    'is an iteration)')
            iters = int(math.floor(value * max_iters + 0.5))
            # a fraction > 0 is at least 2 iterations: MMEngine's LinearLR
            # reaches its end factor one step before its end, so a warm-up
            # of 1 would keep the start factor for the whole run
            scheduler[key] = max(iters, 2) if value > 0 else 0
            converted = True
        if converted and 'begin' in scheduler and 'end' in scheduler:
            scheduler['end'] = max(scheduler['end'], scheduler['begin'] + 1)
        return scheduler

    def convert_all(schedulers):
        if isinstance(schedulers, (list, tuple)):
            return [convert(s) for s in schedulers]
        return convert(schedulers)

    schedulers = runner.param_schedulers
    if isinstance(schedulers, dict) and 'type' not in schedulers:
        # one list per optimizer (OptimWrapperDict)
        runner.param_schedulers = {name: convert_all(group)
                                   for name, group in schedulers.items()}
    elif schedulers is not None:
        runner.param_schedulers = convert_all(schedulers)


def searched_config(train_config: str, result: dict) -> Config:
    """``train_config`` with the found network as an inline
    ``MoViNet(arch=dict(...))`` and its input in the pipelines."""
    from .supernet import recognizer_cfg
    if not osp.isfile(train_config):
        raise FileNotFoundError(f'train_config {train_config} not found')
    cfg = Config.fromfile(train_config)
    arch = Architecture.from_dict(result['architecture'])
    cfg.model = recognizer_cfg(arch, result['num_classes'], result['network'],
                               result.get('norm_cfg'),
                               result.get('dropout_ratio', 0.2))
    cfg.searched_architecture = dict(gmacs=result['gmacs'],
                                     target_gmacs=result['target_gmacs'],
                                     cost_only=bool(result.get('cost_only',
                                                               False)))
    set_pipeline_input(cfg, arch)
    return cfg


def set_pipeline_input(cfg: Config, arch: Architecture) -> None:
    """Set every pipeline's frame count, stride and size to ``arch``'s
    (SampleFrames clip_len and frame_interval x frame_stride, Resize)."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if not loader:
            continue
        for step in loader['dataset']['pipeline']:
            if step['type'] == 'SampleFrames':
                step['clip_len'] = arch.frames
                step['frame_interval'] = step.get('frame_interval', 1) * \
                    arch.frame_stride
            elif step['type'] == 'SampleAllFrames':
                step['frame_interval'] = step.get('frame_interval', 1) * \
                    arch.frame_stride
            elif step['type'] == 'Resize' and not step.get('keep_ratio', True):
                step['scale'] = (arch.resolution, arch.resolution)


def load_result(path: Union[str, os.PathLike]) -> dict:
    """A ``searched_arch.json`` (clear error when it is missing).

    ``result['cost_only']`` tells a cost-only search's result (no quality
    term in its reward) from a search's; False for files written before
    the field."""
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'searched architecture file {path} not found: run the search '
            '(python -m mim train movinet_mm configs/search/<config>.py) '
            'first, or point model.arch_file at its work dir')
    with open(path) as f:
        result = json.load(f)
    result.setdefault('cost_only', False)
    return result
