"""The multi-label demo end to end, scaled down, as a user runs it.

Subprocesses from the repository root: generate a few multi-label synthetic
clips (``--multi-label``: 1 to 3 objects per clip, each its own motion
class), ``python -m mim train movinet_mm`` the multi-label config for one
epoch and ``python -m mim test`` it with the stream loop, which reports the
mean average precision. The data are 8 training clips of 16 frames at 40x40.
"""
import glob
import json
import os.path as osp
import pickle
import re
import sys

import numpy as np
from runs import last_checkpoint, run, tiny_options

CONFIG = 'configs/movinet_a0_stream_synthetic_multilabel.py'
MAP = 'acc/mean_average_precision'


def make_multi_label_data(root: str) -> str:
    run([sys.executable, 'tools/data/generate_synthetic.py', '--multi-label',
         '--out', root, '--train-per-class', '1', '--val-per-class', '1',
         '--test-per-class', '1', '--frames', '16', '--size', '40',
         '--quiet'])
    return root


def _labels(root, split):
    with open(osp.join(root, f'{split}_list_videos.txt')) as f:
        return [[int(x) for x in line.split()[1:]] for line in f]


def test_generate_train_stream_test_map(tmp_path):
    data = make_multi_label_data(str(tmp_path / 'synthetic_multilabel'))
    work = str(tmp_path / 'work')
    run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', CONFIG,
         '--work-dir', work, *tiny_options(data, 1)])
    ckpt = last_checkpoint(work)
    assert ckpt.endswith('epoch_1.pth')
    # the stream val loop scored the epoch with mAP
    scalars = sorted(glob.glob(osp.join(work, '2*', 'vis_data',
                                        'scalars.json')))[-1]
    with open(scalars) as f:
        logged = [json.loads(line) for line in f]
    assert any(MAP in entry for entry in logged), logged[-1]

    test_dir = osp.join(work, 'test')
    dump = osp.join(test_dir, 'predictions.pkl')
    cmd = [sys.executable, '-m', 'mim', 'test', 'movinet_mm', CONFIG,
           '--checkpoint', ckpt, '--work-dir', test_dir, '--dump', dump,
           '--cfg-options', *tiny_options(data, 1)[1:]]
    out = run(cmd)
    found = re.findall(re.escape(MAP) + r': ([0-9.]+)', out)
    assert found, out[-3000:]
    mean_ap = float(found[-1])
    assert 0.0 <= mean_ap <= 1.0
    print(f'\nmulti-label demo, 1 epoch on 8 clips: test {MAP} = '
          f'{mean_ap:.4f} (8 videos, stream loop)')
    # the stream loop tested every video, as one stream each, and
    # StreamEvalHook wrote the early-recognition curve
    assert 'StreamTestLoop' in open(_run_config(test_dir)).read()
    assert 'stream eval: 8 videos' in out
    stream_json = glob.glob(osp.join(test_dir, '*', 'stream_eval.json'))
    assert len(stream_json) == 1

    with open(dump, 'rb') as f:
        results = pickle.load(f)
    labels = _labels(data, 'test')
    assert len(results) == len(labels) == 8
    if all('sample_idx' in r for r in results):
        results = sorted(results, key=lambda r: r['sample_idx'])
    sums = []
    for result, label in zip(results, labels):
        scores = np.asarray(result['pred_score'], dtype=np.float64)
        assert scores.shape == (8, )
        # sigmoid scores, one per class, not a distribution over classes
        assert ((scores >= 0) & (scores <= 1)).all()
        expected = np.zeros(8)
        expected[label] = 1
        np.testing.assert_array_equal(
            np.asarray(result['gt_label'], dtype=np.float64), expected)
        sums.append(scores.sum())
    # independent sigmoids: the scores of a video do not add up to 1
    assert not np.allclose(sums, 1.0, atol=1e-3), sums


def _run_config(test_dir: str) -> str:
    """The config a run dumped into its timestamped folder."""
    found = glob.glob(osp.join(test_dir, '2*', 'vis_data', 'config.py'))
    found = found or glob.glob(osp.join(test_dir, '*.py'))
    assert found, f'no config dumped under {test_dir}'
    return sorted(found)[-1]

