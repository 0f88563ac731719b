"""The multi-label variant of the synthetic data set (``--multi-label``).

1 to 3 objects per clip, each with its own motion class in its own cell of
a 2x2 grid; annotation lines ``<path> <label> <label> ...`` for MMAction2's
``VideoDataset(multi_class=True)``. The default (single-label) output stays
bit-identical to what the generator wrote before the option existed.
"""
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest
from helpers import load_tool

from movinet_mm.datasets import synthetic

gen = load_tool('tools/data/generate_synthetic.py')

TINY = ['--train-per-class', '1', '--val-per-class', '1', '--test-per-class',
        '1', '--frames', '10', '--size', '32', '--quiet']
TINY_ML = ['--multi-label', '--train-per-class', '2', '--val-per-class', '1',
           '--test-per-class', '1', '--frames', '12', '--size', '40',
           '--quiet']
# _digest of `generate_synthetic.py --out X *TINY`, written by the generator
# before --multi-label existed (OpenCV 5.1.0, numpy 2.4.6)
DEFAULT_DIGEST = \
    'f1f9ab1bca68ba903b5e565d80e3d73d5c155ae0b2685b652e828480d4a4ec56'
DIGEST_OPENCV = '5.1.0'


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = osp.join(dirpath, name)
            h.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                h.update(f.read())
    return h.hexdigest()


def _lines(root, split):
    with open(osp.join(root, f'{split}_list_videos.txt')) as f:
        return [line.split() for line in f]


@pytest.fixture(scope='module')
def tiny_ml(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('synthetic_ml'))
    assert gen.main(['--out', out, *TINY_ML]) == 0
    return out


def test_default_output_is_unchanged(tmp_path):
    import cv2
    if cv2.__version__ != DIGEST_OPENCV:
        pytest.skip(f'digest pinned with OpenCV {DIGEST_OPENCV} (MJPG bytes), '
                    f'this is {cv2.__version__}')
    out = str(tmp_path / 'default')
    assert gen.main(['--out', out, *TINY]) == 0
    assert _digest(out) == DEFAULT_DIGEST
    with open(osp.join(out, 'meta.json')) as f:
        assert 'multi_label' not in json.load(f)


def test_multi_label_annotations_and_videos(tiny_ml):
    import decord
    with open(osp.join(tiny_ml, 'classes.txt')) as f:
        classes = f.read().split()
    assert classes == list(synthetic.ALL_CLASSES)
    counts = {'train': 16, 'val': 8, 'test': 8}
    sizes = set()
    for split, count in counts.items():
        lines = _lines(tiny_ml, split)
        assert len(lines) == count
        for rel, *labels in lines:
            labels = [int(x) for x in labels]
            sizes.add(len(labels))
            assert 1 <= len(labels) <= synthetic.MAX_OBJECTS
            assert labels == sorted(set(labels))  # no duplicates
            assert all(0 <= x < len(classes) for x in labels)
            names = osp.basename(rel)[len('00000_'):-len('.avi')]
            assert names.split('+') == [classes[x] for x in labels]
            reader = decord.VideoReader(osp.join(tiny_ml, 'videos', rel))
            assert len(reader) == 12 and reader[0].shape == (40, 40, 3)
    assert sizes == {1, 2, 3}
    with open(osp.join(tiny_ml, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['multi_label'] is True and meta['num_classes'] == 8
    assert meta['max_objects'] == 3


def test_videodataset_multi_class_reads_multi_hot_labels(tiny_ml):
    from mmaction.datasets import VideoDataset
    dataset = VideoDataset(
        ann_file=osp.join(tiny_ml, 'train_list_videos.txt'),
        data_prefix=dict(video=osp.join(tiny_ml, 'videos')),
        pipeline=[dict(type='DecordInit'),
                  dict(type='SampleAllFrames', frame_interval=1),
                  dict(type='DecordDecode'),
                  dict(type='FormatShape', input_format='NCTHW'),
                  dict(type='PackActionInputs')],
        multi_class=True, num_classes=8, test_mode=True)
    for index, (_, *labels) in enumerate(_lines(tiny_ml, 'train')[:4]):
        sample = dataset[index]
        assert tuple(sample['inputs'].shape) == (1, 3, 12, 40, 40)
        expected = np.zeros(8, np.float32)
        expected[[int(x) for x in labels]] = 1
        np.testing.assert_array_equal(
            sample['data_samples'].gt_label.numpy(), expected)


def test_deterministic_by_seed_and_rerun_skips(tiny_ml, tmp_path, capsys):
    again = str(tmp_path / 'again')
    other = str(tmp_path / 'other')
    assert gen.main(['--out', again, *TINY_ML]) == 0
    assert gen.main(['--out', other, '--seed', '1', *TINY_ML]) == 0
    assert _digest(again) == _digest(tiny_ml)
    assert _digest(other) != _digest(tiny_ml)
    capsys.readouterr()
    assert gen.main(['--out', again, *TINY_ML]) == 0
    assert 'already generated' in capsys.readouterr().out


def test_label_sets_cover_every_class_and_size():
    opts = synthetic.SyntheticOptions(multi_label=True, train_per_class=50)
    plan = synthetic.clip_plan(opts)['train']
    assert len(plan) == 400
    labels = [label for _, label, _ in plan]
    assert {len(x) for x in labels} == {1, 2, 3}
    per_class = np.bincount([c for x in labels for c in x], minlength=8)
    # about 2 labels per clip: each class in about a quarter of the clips
    assert per_class.min() > 0.15 * len(plan)
    assert per_class.max() < 0.35 * len(plan)
    # fewer classes than objects: at most one object per class
    two = synthetic.SyntheticOptions(multi_label=True,
                                     classes=['approach', 'recede'])
    assert {len(x) for _, x, _ in synthetic.clip_plan(two)['train']} <= {1, 2}


def test_each_object_moves_in_its_own_cell():
    size, cell = 64, 32
    for seed in range(4):
        clip = synthetic.render_multi_clip(
            np.random.default_rng(seed), ['move_right', 'approach'], 12, size,
            noise=0.0).astype(int)
        moving = [np.abs(np.diff(
            clip[:, y:y + cell, x:x + cell], axis=0)).sum() > 0
            for y in (0, cell) for x in (0, cell)]
        assert sum(moving) == 2, moving  # two objects, two cells; two still


@pytest.mark.parametrize('names, reversed_names', [
    (['move_right'], ['move_left']),
    (['move_right', 'approach'], ['move_left', 'recede']),
    (['move_down', 'rotate_clockwise', 'approach'],
     ['move_up', 'rotate_counterclockwise', 'recede']),
])
def test_reversed_classes_are_the_objects_played_backwards(names,
                                                           reversed_names):
    a = synthetic.render_multi_clip(np.random.default_rng(3), names, 12, 64,
                                    noise=0.0)
    b = synthetic.render_multi_clip(np.random.default_rng(3), reversed_names,
                                    12, 64, noise=0.0)
    np.testing.assert_array_equal(b, a[::-1])
    assert np.abs(a[0].astype(int) - a[-1].astype(int)).mean() > 0.1


@pytest.mark.parametrize('args', [
    ['--size', '32'],  # cells of 16 px: objects under 2 px
    ['--size', '64', '--object-scale', '0.1', '0.25'],  # leaves the cell
    ['--size', '64', '--object-scale', '0.02', '0.1'],  # under 2 px
])
def test_options_that_cannot_hold_three_objects(args, tmp_path, capsys):
    out = str(tmp_path / 'bad')
    assert gen.main(['--out', out, '--multi-label', *args, '--quiet']) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert 'error: --multi-label: 3 objects do not fit' in err
    assert not osp.exists(out)


def test_cli_default_output_folder():
    assert gen.parse_args(['--multi-label']).out == 'data/synthetic_multilabel'
    assert gen.parse_args([]).out == 'data/synthetic'
    assert gen.parse_args(['--multi-label', '--out', 'x']).out == 'x'
