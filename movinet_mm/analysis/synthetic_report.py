"""Accuracy per class pair of a test run on the synthetic data set
(``tools/data/synthetic_report.py`` is the command line).

For each time-reversed pair (e.g. move_left / move_right):

- top-1: the predicted class is right;
- pair: the predicted class is one of the pair's two classes (what a model
  blind to frame order can still get right);
- direction: among the videos whose pair was found, the share with the
  right one of the two (50% is chance: frame order is the only cue).
"""
import glob
import json
import os.path as osp
import pickle
from typing import Dict, List, Sequence, Tuple


def _label(value) -> int:
    try:
        return int(value.reshape(-1)[0])
    except AttributeError:
        return int(value[0] if isinstance(value, (list, tuple)) else value)


def load_predictions(path: str) -> List[Tuple[int, int]]:
    """(ground truth, predicted) label of every video in a dump."""
    with open(path, 'rb') as f:
        results = pickle.load(f)
    pairs = []
    for r in results:
        gt = _label(r['gt_label'])
        if 'pred_label' in r:
            pred = _label(r['pred_label'])
        else:
            pred = int(r['pred_score'].argmax())
        pairs.append((gt, pred))
    return pairs


def read_classes(data: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Class names and time-reversed pairs of a generated data set."""
    with open(osp.join(data, 'classes.txt')) as f:
        classes = [line.strip() for line in f if line.strip()]
    pairs = []
    meta = osp.join(data, 'meta.json')
    if osp.isfile(meta):
        with open(meta) as f:
            pairs = [tuple(p) for p in json.load(f).get('pairs', [])]
    return classes, pairs


def pair_report(preds: Sequence[Tuple[int, int]], classes: Sequence[str],
                pairs: Sequence[Tuple[str, str]]) -> Dict:
    """Top-1 overall and per class; top-1, pair and direction per pair."""
    total = len(preds)
    report = {
        'num_videos': total,
        'top1': sum(g == p for g, p in preds) / max(total, 1),
        'per_class': {},
        'pairs': {},
    }
    for k, name in enumerate(classes):
        own = [(g, p) for g, p in preds if g == k]
        if own:
            report['per_class'][name] = sum(g == p for g, p in own) / len(own)
    for a, b in pairs:
        ids = {classes.index(a), classes.index(b)}
        own = [(g, p) for g, p in preds if g in ids]
        if not own:
            continue
        found = [(g, p) for g, p in own if p in ids]
        report['pairs'][f'{a}/{b}'] = {
            'num_videos': len(own),
            'top1': sum(g == p for g, p in own) / len(own),
            'pair': len(found) / len(own),
            'direction': (sum(g == p for g, p in found) / len(found)
                          if found else float('nan')),
        }
    return report


def format_report(report: Dict) -> str:
    lines = [f'test top-1: {100 * report["top1"]:.1f}% '
             f'({report["num_videos"]} videos)']
    if report['pairs']:
        width = max(len(k) for k in report['pairs'])
        lines.append(f'  {"class pair":<{width}}  videos  top-1   pair  '
                     'direction (chance 50%)')
        for name, r in report['pairs'].items():
            lines.append(f'  {name:<{width}}  {r["num_videos"]:>6}  '
                         f'{100 * r["top1"]:5.1f}  {100 * r["pair"]:5.1f}  '
                         f'{100 * r["direction"]:5.1f}')
    return '\n'.join(lines)


def _latest(pattern: str) -> str:
    found = sorted(glob.glob(pattern))
    return found[-1] if found else ''


def locations(work_dir: str) -> List[str]:
    """Where a demo run's checkpoints, curves and stream plots are."""
    lines = []
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            lines.append(f'checkpoint:      {f.read().strip()}')
    best = _latest(osp.join(work_dir, 'best_*.pth'))
    if best:
        lines.append(f'best checkpoint: {best}')
    for label, pattern in (
            ('training curve:  ', 'training_curve.png'),
            ('stream test plot:', osp.join('test', '*', 'stream_eval.png')),
            ('stream val plots:', osp.join('*', 'stream_eval_val_*.png')),
            ('training log:    ', osp.join('2*', '2*.log'))):
        path = _latest(osp.join(work_dir, pattern))
        if path:
            lines.append(f'{label} {path}')
    seconds = osp.join(work_dir, 'train_seconds.txt')
    if osp.isfile(seconds):
        with open(seconds) as f:
            s = int(float(f.read().strip()))
        lines.insert(0, f'training time:   {s // 60} min {s % 60:02d} s '
                     '(wall clock, `mim train`)')
    return lines
