"""Stream-aware validation and test loops: each video is read once, as a stream.

Select them in a config with ``test_cfg = dict(type='StreamTestLoop',
chunk_size=8)`` (and ``val_cfg = dict(type='StreamValLoop', ...)``). The
pipeline should sample each video whole (``SampleAllFrames``); the
loop feeds its frames to the causal model in sub-clips of ``chunk_size``
frames, carrying the stream state, and predicts from the logits after the
video's last frame. States start fresh for every batch and are per sample,
so they never cross videos, batch elements or ranks. Videos of different
lengths in one batch are each cut at their own last frame.

Multi-label models (``MoViNetHead(multi_class=True)``, ``VideoDataset(
multi_class=True, num_classes=K)``) work the same way: ``pred_score`` and
the traced ``stream_scores`` are per-class sigmoid probabilities, so
``AccMetric(metric_list=('mean_average_precision', ))`` gives the mAP, and
:class:`StreamEvalHook`'s curve is the mAP after each fraction of the video.

A video that cannot be read (unreadable, truncated, zero frames) is
reported with its path and counted as skipped (``<metric>/skipped_videos``
in the metrics) with ``on_error='skip'``, or stops the run with
``on_error='raise'``.

A progress bar (batches done, rate, ETA) is drawn on rank 0 when stdout is a
terminal (``progress_bar=None``), always (True) or never (False).
"""
import sys
import time
from typing import Dict, List, Optional, Union

import torch
from mmaction.registry import LOOPS
from mmaction.structures import ActionDataSample
from mmengine.dist import is_main_process
from mmengine.evaluator import Evaluator
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop
from mmengine.runner.amp import autocast
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from ...utils.memory import PeakMemory
from .skipping import SkipUnreadableMixin


def _lengths(inputs):
    """Real frame counts of each video (a dict of them per input key for
    multi-input models), and the frames each video feeds in all."""
    def count(xs):
        return ([x.shape[-3] for x in xs],
                [x.shape[-3] * (x.shape[0] if x.dim() == 5 else 1)
                 for x in xs])

    if isinstance(inputs, dict):
        per_key = {k: count(xs) for k, xs in inputs.items()}
        lengths = {k: v[0] for k, v in per_key.items()}
        fed = [sum(v[1][i] for v in per_key.values())
               for i in range(len(next(iter(inputs.values()))))]
        return lengths, fed
    return count(inputs)


class _StreamLoopMixin(SkipUnreadableMixin):
    """What the stream val and test loops share (``_phase``: 'val'/'test')."""

    _phase = 'val'

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 chunk_size: int = 8,
                 num_trace_points: int = 10,
                 on_error: str = 'skip',
                 fp16: bool = False,
                 progress_bar: Optional[bool] = None):
        super().__init__(runner, dataloader, evaluator, fp16)
        if chunk_size < 1:
            raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
        self.chunk_size = chunk_size
        self.num_trace_points = num_trace_points
        self._setup_skipping(on_error)
        if progress_bar is None:
            progress_bar = sys.stdout.isatty()
        self.progress_bar = progress_bar and is_main_process()
        self._bar = None

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        self.runner.call_hook(f'before_{self._phase}_iter', batch_idx=idx,
                              data_batch=data_batch)
        outputs = self._stream_iter(data_batch)
        self._advance_progress()
        self.runner.call_hook(f'after_{self._phase}_iter', batch_idx=idx,
                              data_batch=data_batch, outputs=outputs)

    def _stream_iter(self, data_batch: dict) -> List[ActionDataSample]:
        model = self.runner.model
        model = model.module if is_model_wrapper(model) else model
        if not hasattr(model, 'stream_predict'):
            raise TypeError(f'{type(model).__name__} cannot stream: use a '
                            'MoViNetRecognizer (or a model with '
                            'stream_predict) with the stream loops')
        batch = self._take_skipped(data_batch)
        if not batch['data_samples']:
            return []
        lengths, frames = _lengths(batch['inputs'])
        data = model.data_preprocessor(batch, False)
        device = next(model.parameters()).device
        start = time.perf_counter()
        with PeakMemory(device) as peak, autocast(enabled=self.fp16):
            outputs = model.stream_predict(data['inputs'],
                                           data['data_samples'], lengths,
                                           self.chunk_size,
                                           self.num_trace_points)
        seconds = time.perf_counter() - start
        for sample, fed in zip(outputs, frames):
            sample.set_field(seconds / sum(frames),
                             'stream_seconds_per_frame')
            sample.set_field(int(fed), 'stream_num_frames')
            sample.set_field(peak.bytes, 'stream_peak_memory')
        self.evaluator.process(data_samples=outputs, data_batch=batch)
        return outputs

    def _advance_progress(self) -> None:
        if not self.progress_bar:
            return
        if self._bar is None:  # a new pass over the data
            self._bar = ProgressBar(len(self.dataloader), file=sys.stdout)
        self._bar.update()
        if self._bar.completed == self._bar.task_num:
            sys.stdout.write('\n')
            self._bar = None


@LOOPS.register_module()
class StreamTestLoop(_StreamLoopMixin, TestLoop):
    """TestLoop that streams each video through a causal model.

    Args:
        chunk_size (int): frames per step (1 = frame by frame).
        num_trace_points (int): trace the predictions after 1/P, ..., P/P
            of each video (the early-recognition curve of
            :class:`StreamEvalHook`); 0 turns tracing off.
        on_error (str): 'skip' (report and count unreadable videos) or
            'raise'.
        progress_bar (bool, optional): draw a progress bar on rank 0; None
            draws it when stdout is a terminal.
    """

    _phase = 'test'


@LOOPS.register_module()
class StreamValLoop(_StreamLoopMixin, ValLoop):
    """ValLoop that streams each video; arguments as :class:`StreamTestLoop`."""

    _phase = 'val'
