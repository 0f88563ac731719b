"""What someone evaluating an online model wants to see, written to the work dir."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmaction.evaluation import mean_average_precision
from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log


def early_recognition_curve(records: Sequence[dict]) -> Dict[str, list]:
    """Top-1 accuracy (or mAP) after each fraction of the videos seen.

    Each record of a single-label video has ``correct`` (one bool per trace
    point, in order); each record of a multi-label video has ``scores``
    (``[P, K]`` sigmoid probabilities) and ``labels`` (its class indices),
    and the curve is then MMAction2's ``mean_average_precision`` over the
    videos at each point (key ``mAP`` instead of ``top1``). All videos are
    traced at the same number of points.
    """
    if records and 'scores' in records[0]:
        scores = np.array([r['scores'] for r in records], dtype=float)
        points, num_classes = scores.shape[1:]
        labels = np.zeros((len(records), num_classes))
        for i, r in enumerate(records):
            labels[i, r['labels']] = 1
        return {
            'fraction_seen': [(k + 1) / points for k in range(points)],
            'mAP': [float(mean_average_precision(list(scores[:, k]),
                                                 list(labels)))
                    for k in range(points)],
        }
    correct = np.array([r['correct'] for r in records], dtype=float)
    points = correct.shape[1]
    return {
        'fraction_seen': [(k + 1) / points for k in range(points)],
        'top1': correct.mean(axis=0).tolist(),
    }


def _multi_hot(sample) -> bool:
    """A multi-label sample: a multi-hot ``gt_label`` as long as its scores
    (a single-label one is ``[1]``)."""
    label = sample.gt_label
    return label.numel() > 1 and \
        label.numel() == sample.stream_scores.shape[-1]


@HOOKS.register_module()
class StreamEvalHook(Hook):
    """Records the stream loops' early-recognition curve, speed and memory.

    Use with :class:`StreamTestLoop` / :class:`StreamValLoop` (which trace
    the predictions after 1/P, ..., P/P of each video). After each
    evaluation it writes ``stream_eval{_val_<epoch>}.json`` and ``.png`` to
    the run's log dir (under the work dir) and logs a one-line summary:
    top-1 at 10%/50%/100% of the video, time per frame and peak memory per
    video. For multi-label models (multi-hot ``gt_label``) the curve is the
    mAP (MMAction2's ``mean_average_precision`` over the videos, on the
    sigmoid scores) after each fraction, instead of top-1; the per-video
    records then hold each video's labels, not its scores.

    Args:
        out_dir (str, optional): where to write instead of the log dir.
        plot (bool): also draw the PNG.
    """

    priority = 'LOW'

    def __init__(self, out_dir: Optional[str] = None, plot: bool = True):
        self.out_dir = out_dir
        self.plot = plot
        self._records: List[dict] = []
        self._scores: List[list] = []  # multi-label traces, per record

    # -------------------------------------------------------------- collect
    def _collect(self, outputs) -> None:
        for sample in outputs or []:
            if 'stream_scores' not in sample:
                continue
            record = {}
            if _multi_hot(sample):
                scores = sample.stream_scores.float().cpu()
                record['labels'] = torch.nonzero(
                    sample.gt_label).flatten().tolist()
                self._scores.append(scores.tolist())
            else:
                gt = int(sample.gt_label.item())
                preds = sample.stream_scores.argmax(dim=-1)
                record['correct'] = (preds == gt).tolist()
            self._records.append({
                **record,
                'frames': int(sample.stream_num_frames),
                'seconds_per_frame': float(sample.stream_seconds_per_frame),
                'peak_memory_bytes': int(sample.stream_peak_memory),
            })

    def before_test_epoch(self, runner) -> None:
        self._records, self._scores = [], []

    def before_val_epoch(self, runner) -> None:
        self._records, self._scores = [], []

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._collect(outputs)

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._collect(outputs)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._report(runner, 'stream_eval')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._report(runner, f'stream_eval_val_{runner.epoch}')

    # --------------------------------------------------------------- report
    def _report(self, runner, name: str) -> None:
        parts = all_gather_object((self._records, self._scores))
        records = [r for part, _ in parts for r in part]
        scores = [s for _, part in parts for s in part]
        self._records, self._scores = [], []
        if not is_main_process():
            return
        if not records:
            print_log('StreamEvalHook: no stream traces (use StreamTestLoop '
                      'with num_trace_points > 0)', logger='current',
                      level=30)
            return
        multi_label = bool(scores)
        if multi_label and len(scores) != len(records):
            raise ValueError('a stream evaluation mixes single-label and '
                             'multi-label videos')
        lengths = {len(s) for s in scores} if multi_label else \
            {len(r['correct']) for r in records}
        if len(lengths) != 1:
            raise ValueError('videos were traced at different numbers of '
                             f'points: {sorted(lengths)}')
        curve = early_recognition_curve(
            [dict(r, scores=s) for r, s in zip(records, scores)]
            if multi_label else records)
        memory = [r['peak_memory_bytes'] for r in records
                  if r['peak_memory_bytes'] >= 0]
        summary = {
            'num_videos': len(records),
            'early_recognition': curve,
            'seconds_per_frame_mean': float(
                np.mean([r['seconds_per_frame'] for r in records])),
            'frames_per_video_mean': float(
                np.mean([r['frames'] for r in records])),
            'peak_memory_bytes_max': int(max(memory)) if memory else -1,
            'peak_memory_bytes_mean': float(np.mean(memory)) if memory
            else -1,
            'per_video': records,
        }
        out_dir = self.out_dir or runner.log_dir
        path = osp.join(out_dir, f'{name}.json')
        with open(path, 'w') as f:
            json.dump(summary, f, indent=1)
        if self.plot:
            self._plot(summary, osp.join(out_dir, f'{name}.png'))
        metric = 'mAP' if multi_label else 'top1'
        values = curve[metric]

        def at(frac):
            index = min(range(len(values)),
                        key=lambda k: abs(curve['fraction_seen'][k] - frac))
            return 100 * values[index]

        print_log(
            f'stream eval: {len(records)} videos, '
            f'{"mAP" if multi_label else "top-1"} {at(0.1):.1f}% at '
            f'10% seen, {at(0.5):.1f}% at 50%, {at(1.0):.1f}% at 100%; '
            f'{1000 * summary["seconds_per_frame_mean"]:.2f} ms/frame; peak '
            f'memory {summary["peak_memory_bytes_max"] / 2**20:.0f} MiB; '
            f'written to {path}', logger='current')

    @staticmethod
    def _plot(summary: dict, path: str) -> None:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        curve = summary['early_recognition']
        metric = 'mAP' if 'mAP' in curve else 'top1'
        fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
        ax.plot([100 * f for f in curve['fraction_seen']],
                [100 * a for a in curve[metric]], marker='o')
        ax.set_xlabel('% of the video seen')
        ax.set_ylabel('mAP (%)' if metric == 'mAP' else 'top-1 accuracy (%)')
        ax.set_ylim(0, 100)
        ax.set_xlim(0, 100)
        ax.grid(alpha=0.3)
        ax.set_title(f'Early recognition ({summary["num_videos"]} videos, '
                     f'{1000 * summary["seconds_per_frame_mean"]:.1f} ms/frame)',
                     fontsize=9)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
