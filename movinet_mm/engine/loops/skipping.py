"""What every movinet_mm val/test loop shares: unreadable videos are named,
counted and skipped.

A loop wraps its dataset's pipeline in :class:`ReadGuard`: a sample whose
pipeline raises (or returns None) becomes a marker carrying the video's path
and the reason, instead of ending the run (``on_error='skip'``), or the run
stops with an error naming the file (``on_error='raise'``). The collate
function sets the markers aside, the loop logs each one and gives every
metric a marker result, and each metric reports how many it saw as
``<prefix>/skipped_videos`` next to its scores over the readable videos.
"""
import torch
from mmaction.structures import ActionDataSample
from mmengine.logging import print_log

from ...datasets.transforms.video import UnreadableVideoError

SKIPPED_KEY = 'skipped_video'
SKIPPED_BATCH_KEY = 'unreadable_samples'
ON_ERROR = ('skip', 'raise')


class ReadGuard:
    """Wraps a dataset pipeline: a video that fails to load becomes a marker."""

    def __init__(self, pipeline, on_error: str):
        self.pipeline = pipeline
        self.on_error = on_error

    def __call__(self, info: dict) -> dict:
        path = info.get('filename', info.get('frame_dir', '?'))
        try:
            out = self.pipeline(info)
            if out is None:
                raise ValueError('a transform of the pipeline dropped it')
            inputs = out['inputs']
            # one tensor, or one per input key (ensembles)
            clips = list(inputs.values()) if isinstance(inputs, dict) \
                else [inputs]
            for clip in clips:
                if clip is None or clip.numel() == 0 or clip.dim() < 4 or \
                        clip.shape[-3] == 0:
                    raise ValueError('no frames were decoded')
            return out
        except Exception as error:  # noqa: BLE001  (any decode failure)
            reason = error.reason if isinstance(error, UnreadableVideoError) \
                else f'{type(error).__name__}: {error}'
            if self.on_error == 'raise':
                raise RuntimeError(f'cannot read video {path}: {reason}') \
                    from error
            sample = ActionDataSample()
            sample.set_metainfo({SKIPPED_KEY: path, 'skip_reason': reason})
            return {'inputs': torch.zeros(0), 'data_samples': sample}


class CollateSkipping:
    """Collates the readable samples; lists the unreadable ones aside."""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, samples: list) -> dict:
        def unreadable(s):
            return SKIPPED_KEY in s['data_samples'].metainfo

        ok = [s for s in samples if not unreadable(s)]
        batch = self.collate(ok) if ok else {'inputs': [],
                                             'data_samples': []}
        batch[SKIPPED_BATCH_KEY] = [s['data_samples'] for s in samples
                                    if unreadable(s)]
        return batch


def count_skips(compute_metrics):
    def wrapped(results: list) -> dict:
        kept = [r for r in results
                if not (isinstance(r, dict) and SKIPPED_KEY in r)]
        metrics = compute_metrics(kept) if kept else {}
        metrics['skipped_videos'] = len(results) - len(kept)
        return metrics
    return wrapped


class SkipUnreadableMixin:
    """For loops with ``self.dataloader`` and ``self.evaluator``."""

    def _setup_skipping(self, on_error: str) -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be 'skip' or 'raise', got "
                             f'{on_error!r}')
        self.on_error = on_error
        dataset = self.dataloader.dataset
        if hasattr(dataset, 'pipeline') and \
                not isinstance(dataset.pipeline, ReadGuard):
            dataset.pipeline = ReadGuard(dataset.pipeline, on_error)
        if not isinstance(self.dataloader.collate_fn, CollateSkipping):
            self.dataloader.collate_fn = CollateSkipping(
                self.dataloader.collate_fn)
        for metric in self.evaluator.metrics:
            if not getattr(metric, '_counts_skips', False):
                metric.compute_metrics = count_skips(metric.compute_metrics)
                metric._counts_skips = True

    def _take_skipped(self, data_batch: dict) -> dict:
        """Log and count the batch's unreadable videos; the rest of the batch."""
        for sample in data_batch.get(SKIPPED_BATCH_KEY, []):
            print_log(f'skipped video {sample.metainfo[SKIPPED_KEY]}: '
                      f'{sample.metainfo["skip_reason"]}',
                      logger='current', level=30)
            for metric in self.evaluator.metrics:
                metric.results.append(
                    {SKIPPED_KEY: sample.metainfo[SKIPPED_KEY]})
        return {k: v for k, v in data_batch.items()
                if k != SKIPPED_BATCH_KEY}

