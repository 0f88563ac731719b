"""Whole-clip val and test loops that name, count and skip unreadable videos.

MMEngine's ``ValLoop``/``TestLoop`` with one difference: a video whose
pipeline fails (unreadable, truncated, empty; see ``VideoInit``) is logged
with its path and counted in ``<metric>/skipped_videos`` instead of ending
the run (``on_error='skip'``), or stops the run naming the file
(``on_error='raise'``). The metrics cover the readable videos. The stream
loops (``StreamValLoop``/``StreamTestLoop``) do the same.
"""
from typing import Dict, List, Union

import torch
from mmaction.registry import LOOPS
from mmengine.evaluator import Evaluator
from mmengine.runner import TestLoop, ValLoop
from mmengine.runner.amp import autocast
from mmengine.runner.loops import _update_losses
from torch.utils.data import DataLoader

from .skipping import SkipUnreadableMixin


class _ClipIterMixin(SkipUnreadableMixin):
    """One whole-clip iteration of a val or test loop (``_phase``)."""

    _phase = 'val'

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List], fp16: bool = False,
                 on_error: str = 'skip'):
        super().__init__(runner, dataloader, evaluator, fp16)
        self._setup_skipping(on_error)

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        phase = self._phase
        self.runner.call_hook(f'before_{phase}_iter', batch_idx=idx,
                              data_batch=data_batch)
        batch = self._take_skipped(data_batch)
        outputs = []
        if batch['data_samples']:
            with autocast(enabled=self.fp16):
                outputs = getattr(self.runner.model, f'{phase}_step')(batch)
            loss_name = f'{phase}_loss'
            outputs, losses = _update_losses(outputs,
                                             getattr(self, loss_name))
            setattr(self, loss_name, losses)
            self.evaluator.process(data_samples=outputs, data_batch=batch)
        self.runner.call_hook(f'after_{phase}_iter', batch_idx=idx,
                              data_batch=batch, outputs=outputs)


@LOOPS.register_module()
class ClipValLoop(_ClipIterMixin, ValLoop):
    """``ValLoop`` that skips unreadable videos.

    Args:
        on_error (str): 'skip' (log, count and skip unreadable videos) or
            'raise'.
    """

    _phase = 'val'


@LOOPS.register_module()
class ClipTestLoop(_ClipIterMixin, TestLoop):
    """``TestLoop`` that skips unreadable videos; arguments as
    :class:`ClipValLoop`."""

    _phase = 'test'
