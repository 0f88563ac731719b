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


@LOOPS.register_module()
class ClipValLoop(SkipUnreadableMixin, ValLoop):
    """``ValLoop`` that skips unreadable videos.

    Args:
        on_error (str): 'skip' (log, count and skip unreadable videos) or
            'raise'.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List], fp16: bool = False,
                 on_error: str = 'skip'):
        super().__init__(runner, dataloader, evaluator, fp16)
        self._setup_skipping(on_error)

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        self.runner.call_hook('before_val_iter', batch_idx=idx,
                              data_batch=data_batch)
        batch = self._take_skipped(data_batch)
        outputs = []
        if batch['data_samples']:
            with autocast(enabled=self.fp16):
                outputs = self.runner.model.val_step(batch)
            outputs, self.val_loss = _update_losses(outputs, self.val_loss)
            self.evaluator.process(data_samples=outputs, data_batch=batch)
        self.runner.call_hook('after_val_iter', batch_idx=idx,
                              data_batch=batch, outputs=outputs)


@LOOPS.register_module()
class ClipTestLoop(SkipUnreadableMixin, TestLoop):
    """``TestLoop`` that skips unreadable videos; arguments as
    :class:`ClipValLoop`."""

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List], fp16: bool = False,
                 on_error: str = 'skip'):
        super().__init__(runner, dataloader, evaluator, fp16)
        self._setup_skipping(on_error)

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        self.runner.call_hook('before_test_iter', batch_idx=idx,
                              data_batch=data_batch)
        batch = self._take_skipped(data_batch)
        outputs = []
        if batch['data_samples']:
            with autocast(enabled=self.fp16):
                outputs = self.runner.model.test_step(batch)
            outputs, self.test_loss = _update_losses(outputs, self.test_loss)
            self.evaluator.process(data_samples=outputs, data_batch=batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx,
                              data_batch=batch, outputs=outputs)
