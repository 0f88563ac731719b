"""Training curves (loss, accuracy, learning rate) of an MMEngine run
(``tools/analysis/plot_training_curve.py`` is the command line).

Reads what MMEngine's LocalVisBackend writes, ``<run>/vis_data/scalars.json``
(one JSON object per line: training lines carry ``iter``, ``epoch``,
``loss``, ``top1_acc``, ``lr``...; validation lines carry ``acc/top1``...
and ``step`` = the epoch). matplotlib is imported only to plot.
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Tuple

from ..utils.files import atomic_output_file

TRAIN_LOSS = 'loss'
TRAIN_ACC = 'top1_acc'
VAL_ACC = 'acc/top1'


def find_scalar_files(path: str) -> List[str]:
    """scalars.json files of the run(s) at ``path``, oldest run first."""
    if osp.isfile(path):
        return [path]
    own = osp.join(path, 'vis_data', 'scalars.json')
    if osp.isfile(own):
        return [own]
    # run dirs are named by their start time (YYYYMMDD_HHMMSS)
    return sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))


def read_scalars(files: List[str]) -> Tuple[Dict[int, dict], Dict[int, dict]]:
    """Training records by iteration and validation records by epoch."""
    train: Dict[int, dict] = {}
    val: Dict[int, dict] = {}
    for file in files:
        with open(file) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a killed run
                if 'iter' in record and TRAIN_LOSS in record:
                    train[int(record['iter'])] = record
                elif VAL_ACC in record and 'step' in record:
                    val[int(record['step'])] = record
    return train, val


def _smooth(values: List[float], window: int) -> List[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot(train: Dict[int, dict], val: Dict[int, dict], out: str,
         title: str = '') -> str:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    iters = sorted(train)
    # the last logged iteration of each epoch places the val points
    epoch_end = {}
    for it in iters:
        epoch = int(train[it].get('epoch', 0))
        epoch_end[epoch] = max(epoch_end.get(epoch, 0), it)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), dpi=110)
    ax_loss, ax_acc, ax_lr = axes
    loss = [train[i][TRAIN_LOSS] for i in iters]
    window = max(1, len(loss) // 20)
    ax_loss.plot(iters, loss, color='tab:blue', alpha=0.3, lw=1,
                 label='train loss')
    ax_loss.plot(iters, _smooth(loss, window), color='tab:blue', lw=2,
                 label=f'smoothed ({window} logs)')
    ax_loss.set_ylabel('loss')
    ax_loss.legend(fontsize=8)

    acc_iters = [i for i in iters if TRAIN_ACC in train[i]]
    if acc_iters:
        acc = [100 * train[i][TRAIN_ACC] for i in acc_iters]
        window = max(1, len(acc) // 20)
        ax_acc.plot(acc_iters, _smooth(acc, window), color='tab:orange',
                    lw=1.5, label='train top-1 (batch, smoothed)')
    if val:
        epochs = sorted(val)
        xs = [epoch_end.get(e, e) for e in epochs]
        ys = [100 * val[e][VAL_ACC] for e in epochs]
        ax_acc.plot(xs, ys, 'o-', color='tab:green', lw=2,
                    label='val top-1')
        for x, y in zip(xs[-1:], ys[-1:]):
            ax_acc.annotate(f'{y:.1f}%', (x, y), textcoords='offset points',
                            xytext=(-10, -14), fontsize=8)
    ax_acc.set_ylim(0, 101)
    ax_acc.set_ylabel('top-1 accuracy (%)')
    ax_acc.legend(fontsize=8, loc='lower right')

    lr_iters = [i for i in iters if 'lr' in train[i]]
    ax_lr.plot(lr_iters, [train[i]['lr'] for i in lr_iters],
               color='tab:purple')
    ax_lr.set_ylabel('learning rate')
    for ax in axes:
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_output_file(out) as tmp:
        fig.savefig(tmp, format=osp.splitext(out)[1][1:] or 'png')
    plt.close(fig)
    return out


def summary(train: Dict[int, dict], val: Dict[int, dict]) -> str:
    """One line: how many logs and validations, last and best top-1."""
    text = f'{len(train)} training logs up to iteration {max(train)}'
    if val:
        best = max(val.values(), key=lambda r: r[VAL_ACC])[VAL_ACC]
        text += (f', {len(val)} validations (last top-1 '
                 f'{100 * val[max(val)][VAL_ACC]:.1f}%, best '
                 f'{100 * best:.1f}%)')
    return text
