"""What someone evaluating an online model wants to see, written to the work dir."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log


def early_recognition_curve(records: Sequence[dict]) -> Dict[str, list]:
    """Top-1 accuracy after each fraction of the videos seen.

    Each record has ``correct`` (one bool per trace point, in order) for a
    video traced at the same number of points.
    """
    correct = np.array([r['correct'] for r in records], dtype=float)
    points = correct.shape[1]
    return {
        'fraction_seen': [(k + 1) / points for k in range(points)],
        'top1': correct.mean(axis=0).tolist(),
    }


@HOOKS.register_module()
class StreamEvalHook(Hook):
    """Records the stream loops' early-recognition curve, speed and memory.

    Use with :class:`StreamTestLoop` / :class:`StreamValLoop` (which trace
    the predictions after 1/P, ..., P/P of each video). After each
    evaluation it writes ``stream_eval{_val_<epoch>}.json`` and ``.png`` to
    the run's log dir (under the work dir) and logs a one-line summary:
    top-1 at 10%/50%/100% of the video, time per frame and peak memory per
    video.

    Args:
        out_dir (str, optional): where to write instead of the log dir.
        plot (bool): also draw the PNG.
    """

    priority = 'LOW'

    def __init__(self, out_dir: Optional[str] = None, plot: bool = True):
        self.out_dir = out_dir
        self.plot = plot
        self._records: List[dict] = []

    # -------------------------------------------------------------- collect
    def _collect(self, outputs) -> None:
        for sample in outputs or []:
            if 'stream_scores' not in sample:
                continue
            gt = int(sample.gt_label.item())
            preds = sample.stream_scores.argmax(dim=-1)
            self._records.append({
                'correct': (preds == gt).tolist(),
                'frames': int(sample.stream_num_frames),
                'seconds_per_frame': float(sample.stream_seconds_per_frame),
                'peak_memory_bytes': int(sample.stream_peak_memory),
            })

    def before_test_epoch(self, runner) -> None:
        self._records = []

    def before_val_epoch(self, runner) -> None:
        self._records = []

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
        records = [r for part in all_gather_object(self._records)
                   for r in part]
        self._records = []
        if not is_main_process():
            return
        if not records:
            print_log('StreamEvalHook: no stream traces (use StreamTestLoop '
                      'with num_trace_points > 0)', logger='current',
                      level=30)
            return
        lengths = {len(r['correct']) for r in records}
        if len(lengths) != 1:
            raise ValueError('videos were traced at different numbers of '
                             f'points: {sorted(lengths)}')
        curve = early_recognition_curve(records)
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
        top1 = curve['top1']

        def at(frac):
            index = min(range(len(top1)),
                        key=lambda k: abs(curve['fraction_seen'][k] - frac))
            return 100 * top1[index]

        print_log(
            f'stream eval: {len(records)} videos, top-1 {at(0.1):.1f}% at '
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
        fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
        ax.plot([100 * f for f in curve['fraction_seen']],
                [100 * a for a in curve['top1']], marker='o')
        ax.set_xlabel('% of the video seen')
        ax.set_ylabel('top-1 accuracy (%)')
        ax.set_ylim(0, 100)
        ax.set_xlim(0, 100)
        ax.grid(alpha=0.3)
        ax.set_title(f'Early recognition ({summary["num_videos"]} videos, '
                     f'{1000 * summary["seconds_per_frame_mean"]:.1f} ms/frame)',
                     fontsize=9)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
