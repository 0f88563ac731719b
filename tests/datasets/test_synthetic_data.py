"""The synthetic frame-order data set, ShuffleFrames, and the demo's tools."""
import hashlib
import importlib.util
import json
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from helpers import REPO

from movinet_mm.analysis import synthetic_report as report
from movinet_mm.analysis import training_curve
from movinet_mm.datasets import synthetic


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the command lines; the library functions come from the package
gen = _load('tools/data/generate_synthetic.py', 'movinet_generate_synthetic')
curve = _load('tools/analysis/plot_training_curve.py', 'movinet_plot_curve')

TINY = ['--train-per-class', '1', '--val-per-class', '1', '--test-per-class',
        '1', '--frames', '10', '--size', '32', '--quiet']


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = osp.join(dirpath, name)
            h.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                h.update(f.read())
    return h.hexdigest()


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('synthetic'))
    assert gen.main(['--out', out, *TINY]) == 0
    return out


def test_writes_videodataset_layout_readable_by_decord(tiny):
    import decord
    with open(osp.join(tiny, 'classes.txt')) as f:
        classes = f.read().split()
    assert classes == list(synthetic.ALL_CLASSES)
    for split in synthetic.SPLITS:
        with open(osp.join(tiny, f'{split}_list_videos.txt')) as f:
            lines = [line.split() for line in f]
        assert len(lines) == len(classes)
        assert sorted(int(label) for _, label in lines) == list(range(8))
        for rel, label in lines:
            assert classes[int(label)] in rel
            reader = decord.VideoReader(osp.join(tiny, 'videos', rel))
            assert len(reader) == 10
            assert reader[0].shape == (32, 32, 3)
    with open(osp.join(tiny, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['pairs'] == [list(p) for p in synthetic.CLASS_PAIRS]
    assert not [n for n in os.listdir(tiny) if 'tmp' in n or 'partial' in n]


def test_clips_go_through_mmaction_video_pipeline(tiny):
    from mmaction.datasets import VideoDataset
    dataset = VideoDataset(
        ann_file=osp.join(tiny, 'test_list_videos.txt'),
        data_prefix=dict(video=osp.join(tiny, 'videos')),
        pipeline=[dict(type='DecordInit'),
                  dict(type='SampleAllFrames', frame_interval=1),
                  dict(type='DecordDecode'),
                  dict(type='FormatShape', input_format='NCTHW'),
                  dict(type='PackActionInputs')],
        test_mode=True)
    sample = dataset[3]
    assert tuple(sample['inputs'].shape) == (1, 3, 10, 32, 32)
    assert int(sample['data_samples'].gt_label) == 3


def test_deterministic_by_seed(tiny, tmp_path):
    again = str(tmp_path / 'again')
    other = str(tmp_path / 'other')
    assert gen.main(['--out', again, *TINY]) == 0
    assert gen.main(['--out', other, '--seed', '1', *TINY]) == 0
    assert _digest(again) == _digest(tiny)
    assert _digest(other) != _digest(tiny)


@pytest.mark.parametrize('a, b', synthetic.CLASS_PAIRS)
def test_second_class_of_a_pair_is_the_first_played_backwards(a, b):
    clip_a = synthetic.render_clip(np.random.default_rng(7), a, 12, 40, 10.0)
    clip_b = synthetic.render_clip(np.random.default_rng(7), b, 12, 40, 10.0)
    np.testing.assert_array_equal(clip_b, clip_a[::-1])
    # and the object really moves (or turns, or grows)
    assert np.abs(clip_a[0].astype(int) - clip_a[-1].astype(int)).mean() > 1


def test_subset_of_classes_and_frame_range(tmp_path):
    out = str(tmp_path / 'sub')
    assert gen.main(['--out', out, '--classes', 'approach', 'recede',
                     'move_up', '--frames', '12', '16', '--train-per-class',
                     '3', '--val-per-class', '1', '--test-per-class', '1',
                     '--size', '40', '--quiet']) == 0
    with open(osp.join(out, 'meta.json')) as f:
        assert json.load(f)['pairs'] == [['approach', 'recede']]
    with open(osp.join(out, 'train_list_videos.txt')) as f:
        assert len(f.readlines()) == 9


@pytest.mark.parametrize('args, message', [
    (['--classes'], 'no classes'),
    (['--classes', 'move_left'], 'at least two'),
    (['--classes', 'move_left', 'jump'], 'unknown classes'),
    (['--size', '24'], 'too small'),
    (['--size', '33'], 'even'),
    (['--size', '48'], 'decord'),
    (['--train-per-class', '-1'], 'train-per-class'),
    (['--test-per-class', '0'], 'test-per-class'),
    (['--frames', '4'], 'frames'),
    (['--frames', '20', '10'], 'frames'),
    (['--fps', '0'], 'fps'),
    (['--object-scale', '0.2', '0.3'], 'MAX <= 0.234'),
    (['--object-scale', '0.2', '0.1'], 'object-scale'),
])
def test_bad_arguments_fail_before_writing(tmp_path, capsys, args, message):
    out = str(tmp_path / 'never')
    assert gen.main(['--out', out, '--quiet', *args]) == 2
    assert message in capsys.readouterr().err
    assert not osp.exists(out)


def test_interrupted_run_leaves_no_annotation_file(tmp_path, monkeypatch):
    out = str(tmp_path / 'cut')
    assert gen.main(['--out', out, *TINY]) == 0  # a complete older set
    real_write, written = synthetic.write_avi, []

    def write_then_die(path, clip, fps):
        if len(written) == 5:
            raise KeyboardInterrupt
        written.append(path)
        real_write(path, clip, fps)

    monkeypatch.setattr(synthetic, 'write_avi', write_then_die)
    with pytest.raises(KeyboardInterrupt):
        gen.main(['--out', out, '--seed', '3', *TINY])
    names = os.listdir(out)
    assert not [n for n in names if n.endswith('.txt') and 'list' in n]
    assert 'meta.json' not in names
    assert not [n for n in names if '.tmp' in n]
    monkeypatch.setattr(synthetic, 'write_avi', real_write)
    assert gen.main(['--out', out, '--seed', '3', *TINY]) == 0
    assert synthetic.is_complete(gen.parse_args(['--out', out, '--seed',
                                                 '3', *TINY]))


def test_fastest_motion_and_largest_objects_render(tmp_path):
    # the largest allowed object circling, and translation at --motion 1.5,
    # stay inside the frame
    out = str(tmp_path / 'extreme')
    assert gen.main(['--out', out, '--train-per-class', '4',
                     '--val-per-class', '1', '--test-per-class', '1',
                     '--frames', '8', '--size', '32', '--motion', '1.5',
                     '--object-scale', '0.2', '0.218', '--quiet']) == 0
    with open(osp.join(out, 'train_list_videos.txt')) as f:
        assert len(f.readlines()) == 32


def test_complete_output_is_not_regenerated(tiny, capsys):
    ann = osp.join(tiny, 'train_list_videos.txt')
    before = os.stat(ann).st_mtime_ns
    assert gen.main(['--out', tiny, *TINY]) == 0
    assert 'already generated' in capsys.readouterr().out
    assert os.stat(ann).st_mtime_ns == before


# ------------------------------------------------------------ ShuffleFrames
def _shuffle(results, **kwargs):
    from mmaction.registry import TRANSFORMS
    return TRANSFORMS.build(dict(type='ShuffleFrames', **kwargs))(results)


def test_shuffle_frames_permutes_within_each_clip():
    inds = np.arange(24)
    out = _shuffle(dict(frame_inds=inds.copy(), clip_len=8, num_clips=3),
                   seed=0)
    assert not np.array_equal(out['frame_inds'], inds)
    for k in range(3):
        assert sorted(out['frame_inds'][8 * k:8 * k + 8]) == \
            list(range(8 * k, 8 * k + 8))


def test_shuffle_frames_seed_fixes_the_permutation_per_video():
    def run(name):
        return _shuffle(dict(frame_inds=np.arange(16), clip_len=16,
                             num_clips=1, filename=name),
                        seed=5)['frame_inds']

    np.testing.assert_array_equal(run('a.avi'), run('a.avi'))
    assert not np.array_equal(run('a.avi'), run('b.avi'))


def test_shuffle_frames_in_the_control_config():
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic_shuffled.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        types = [t['type'] for t in cfg[loader].dataset.pipeline]
        assert types.index('ShuffleFrames') == types.index('VideoDecode') - 1
    assert cfg.test_cfg.type == 'StreamTestLoop'


def test_demo_config():
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic.py'))
    assert cfg.model.backbone.causal is True
    assert cfg.model.cls_head.num_classes == 8
    assert cfg.val_cfg.type == 'StreamValLoop'
    assert cfg.test_cfg.type == 'StreamTestLoop'
    assert dict(type='StreamEvalHook') in cfg.custom_hooks
    assert cfg.custom_imports.imports == ['movinet_mm']
    steps = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert 'Flip' not in steps  # a mirror image swaps left and right
    assert [t['type'] for t in cfg.test_dataloader.dataset.pipeline][1] == \
        'SampleAllFrames'


# ----------------------------------------------------------- report, curve
def test_pair_report_counts_direction_within_found_pairs(tmp_path):
    classes = list(synthetic.ALL_CLASSES)
    pairs = [tuple(p) for p in synthetic.CLASS_PAIRS]
    right, left = classes.index('move_right'), classes.index('move_left')
    up = classes.index('move_up')
    preds = [(right, right), (right, left), (left, left), (left, up)]
    r = report.pair_report(preds, classes, pairs)
    move = r['pairs']['move_right/move_left']
    assert move['num_videos'] == 4
    assert move['top1'] == 0.5
    assert move['pair'] == 0.75
    assert move['direction'] == pytest.approx(2 / 3)
    dump = str(tmp_path / 'p.pkl')
    with open(dump, 'wb') as f:
        pickle.dump([dict(gt_label=torch.tensor([g]),
                          pred_label=torch.tensor([p]),
                          pred_score=torch.eye(8)[p]) for g, p in preds], f)
    assert report.load_predictions(dump) == preds


def test_training_curve_merges_resumed_runs(tmp_path):
    work = tmp_path / 'work'

    def run(stamp, lines):
        vis = work / stamp / 'vis_data'
        vis.mkdir(parents=True)
        (vis / 'scalars.json').write_text(
            ''.join(json.dumps(x) + '\n' for x in lines) + '{"cut')

    def train(it, epoch, loss):
        return dict(iter=it, epoch=epoch, loss=loss, top1_acc=0.5, lr=1e-3)

    run('20240101_000000', [train(1, 1, 2.0), train(2, 1, 1.9),
                            {'acc/top1': 0.3, 'step': 1}, train(3, 2, 5.0)])
    run('20240101_000100', [train(3, 2, 1.5), train(4, 2, 1.2),
                            {'acc/top1': 0.8, 'step': 2}])
    files = training_curve.find_scalar_files(str(work))
    assert len(files) == 2
    t, v = training_curve.read_scalars(files)
    assert sorted(t) == [1, 2, 3, 4] and t[3]['loss'] == 1.5
    assert {k: x['acc/top1'] for k, x in v.items()} == {1: 0.3, 2: 0.8}
    assert curve.main([str(work)]) == 0
    assert osp.getsize(str(work / 'training_curve.png')) > 10000
    assert curve.main([str(tmp_path / 'nothing')]) == 1
