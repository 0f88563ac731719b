"""Broken videos never end a run: named, counted and skipped in every loop.

The broken files are made here from a generated video (``write_broken_videos``):
truncated (as ``head -c``), garbled frame data, a header without frames, 0
bytes, random bytes, and an AVI cut after 5 of its 12 frames. MMAction2's
``DecordInit`` (what the shipped configs used) opens videos from memory, where
decord segfaults on the truncated ones; the tests run the shipped configs'
own pipelines through MMEngine's Runner (one DataLoader worker, so such a
crash fails the test instead of killing pytest).
"""
import glob
import os.path as osp

import pytest
import torch
from helpers import REPO
from mmengine.config import Config
from mmengine.runner import Runner
from videos import SEEN, moving_square, shipped_config, write_broken_videos, write_video

from movinet_mm.datasets import UnreadableVideoError, VideoInit

BROKEN = ('truncated', 'garbled', 'header_only', 'empty', 'garbage',
          'truncated_late')


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('videos'))
    good = [osp.basename(write_video(osp.join(root, f'good_{i}.avi'),
                                     moving_square(12, 40, seed=i)))
            for i in range(3)]
    broken = {k: osp.basename(p)
              for k, p in write_broken_videos(root, 40, 12).items()}
    return root, good, broken


def _ann(root, tmp_path, names, name='ann.txt'):
    path = osp.join(str(tmp_path), name)
    with open(path, 'w') as f:
        f.writelines(f'{n} {i % 3}\n' for i, n in enumerate(names))
    return path


def _mixed(good, broken):
    """Good and broken files interleaved, the first entry a broken one."""
    names = []
    for i, kind in enumerate(BROKEN):
        names.append(broken[kind])
        if i < len(good):
            names.append(good[i])
    return names


def _config(name, root, ann, work_dir, split='test'):
    return shipped_config(name, root, ann, work_dir, split)


def _warnings(work_dir):
    """The warnings in the runs' log files (MMEngine's logger does not
    propagate to pytest's caplog)."""
    lines = []
    for path in glob.glob(osp.join(str(work_dir), '**', '*.log'),
                          recursive=True):
        with open(path) as f:
            lines += [line for line in f if 'WARNING' in line]
    return ''.join(lines)


def test_shipped_configs_decode_by_path_and_skip():
    """Every shipped pipeline decodes with VideoInit/VideoDecode; training
    skips broken videos, the val/test loops count them."""
    def steps(pipeline):
        for step in pipeline:
            yield step
            yield from steps(step.get('transforms', []))

    configs = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))
    assert len(configs) >= 20
    for path in configs:
        cfg = Config.fromfile(path)
        for split in ('train', 'val', 'test'):
            loader = cfg.get(f'{split}_dataloader')
            if not loader:
                continue
            types = {s['type']: s for s in steps(loader.dataset.pipeline)}
            name = f'{osp.basename(path)} {split}'
            assert 'DecordInit' not in types and 'DecordDecode' not in types, \
                name
            assert 'VideoInit' in types and 'VideoDecode' in types, name
            if split == 'train':
                assert types['VideoInit'].get('on_error') == 'skip', name
                assert types['VideoDecode'].get('on_error') == 'skip', name
            else:
                loop = cfg.get(f'{split}_cfg')
                assert loop.type in ('ClipValLoop', 'ClipTestLoop',
                                     'StreamValLoop', 'StreamTestLoop'), name


@pytest.mark.parametrize('kind', BROKEN)
def test_video_init_names_each_broken_file(videos, kind, monkeypatch):
    root, good, broken = videos
    path = osp.join(root, broken[kind])
    with pytest.raises(UnreadableVideoError) as error:
        VideoInit()(dict(filename=path))
    message = str(error.value)
    assert message.startswith(f'cannot read video {path}: ')
    assert '\n' not in message
    logged = []
    monkeypatch.setattr('movinet_mm.datasets.transforms.video.print_log',
                        lambda message, **kwargs: logged.append(message))
    assert VideoInit(on_error='skip')(dict(filename=path)) is None
    assert logged == [f'skipped video {path}: {error.value.reason}']
    ok = VideoInit()(dict(filename=osp.join(root, good[0])))
    assert ok['total_frames'] == 12


def test_stream_test_loop_skips_broken_videos(videos, tmp_path):
    root, good, broken = videos
    ann = _ann(root, tmp_path, _mixed(good, broken))
    cfg = _config('movinet_a0_stream_synthetic.py', root, ann, tmp_path)
    SEEN.clear()
    metrics = Runner.from_cfg(cfg).test()
    assert metrics['acc/skipped_videos'] == len(BROKEN)
    assert sorted(SEEN) == sorted(good)
    log = _warnings(tmp_path)
    for kind in BROKEN:
        assert f'skipped video {osp.join(root, broken[kind])}' in log

    cfg = _config('movinet_a0_stream_synthetic.py', root, ann,
                  tmp_path / 'raise')
    cfg.test_cfg.on_error = 'raise'
    with pytest.raises(RuntimeError, match=broken['truncated']):
        Runner.from_cfg(cfg).test()


def _small_clip_pipeline(cfg):
    """The base config's own test pipeline, at test sizes."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    for step in pipeline:
        if step['type'] == 'SampleFrames':
            step.update(clip_len=8, frame_interval=1)
        elif step['type'] == 'Resize':
            step.update(scale=(-1, 36))
        elif step['type'] == 'CenterCrop':
            step.update(crop_size=32)
    return cfg


def test_clip_test_loop_skips_broken_videos(videos, tmp_path):
    root, good, broken = videos
    ann = _ann(root, tmp_path, _mixed(good, broken))
    cfg = _small_clip_pipeline(
        _config('movinet_a0_k600.py', root, ann, tmp_path))
    assert cfg.test_cfg.type == 'ClipTestLoop'
    torch.manual_seed(0)
    SEEN.clear()
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert metrics['acc/skipped_videos'] == len(BROKEN)
    assert sorted(SEEN) == sorted(good)
    for kind in BROKEN:
        assert osp.join(root, broken[kind]) in _warnings(tmp_path)
    # the readable videos get the predictions they get alone
    mixed = dict(SEEN)
    cfg = _small_clip_pipeline(_config(
        'movinet_a0_k600.py', root, _ann(root, tmp_path, good, 'good.txt'),
        tmp_path / 'good'))
    cfg.load_from = None
    alone = Runner.from_cfg(cfg)
    alone.model.load_state_dict(runner.model.state_dict())
    SEEN.clear()
    assert alone.test()['acc/skipped_videos'] == 0
    for name in good:
        torch.testing.assert_close(mixed[name], SEEN[name])

    cfg = _small_clip_pipeline(
        _config('movinet_a0_k600.py', root, ann, tmp_path / 'raise'))
    cfg.test_cfg.on_error = 'raise'
    with pytest.raises(RuntimeError, match=broken['truncated']):
        Runner.from_cfg(cfg).test()


def _train_config(root, ann, work_dir):
    cfg = _config('movinet_a0_stream_synthetic.py', root, ann, work_dir,
                  split='train')
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1,
                         val_interval=100)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.param_scheduler = None
    return cfg


def test_training_replaces_broken_videos(videos, tmp_path):
    root, good, broken = videos
    names = _mixed(good, broken)
    cfg = _train_config(root, _ann(root, tmp_path, names), tmp_path)
    SEEN.clear()
    runner = Runner.from_cfg(cfg)
    runner.train()
    # 9 entries in batches of 2: 5 iterations, no batch short of a
    # broken video (each was replaced by another sample)
    assert runner.iter == 5
    assert SEEN['train_batches'] == [2, 2, 2, 2, 1]
    log = _warnings(tmp_path)
    assert 'skipped video' in log
    for line in log.splitlines():
        if 'skipped video' in line:
            assert any(osp.join(root, broken[k]) in line for k in BROKEN)

    # nothing readable: MMEngine gives up after max_refetch draws
    cfg = _train_config(root, _ann(root, tmp_path, list(broken.values()),
                                   'bad.txt'), tmp_path / 'bad')
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.dataset.max_refetch = 3
    with pytest.raises(Exception, match='after 3'):
        Runner.from_cfg(cfg).train()


def test_online_api_and_stream_demo_on_broken_videos(videos, tmp_path,
                                                      capsys):
    import importlib.util

    from movinet_mm.apis import read_video_frames
    root, _, broken = videos
    spec = importlib.util.spec_from_file_location(
        'stream_demo', osp.join(REPO, 'tools', 'stream_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    config = osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic.py')
    for kind in BROKEN:
        path = osp.join(root, broken[kind])
        with pytest.raises(UnreadableVideoError, match='cannot read video'):
            list(read_video_frames(path))
        with pytest.raises(SystemExit) as error:
            demo.main([config, 'none', path])
        message = str(error.value)  # the line; exit status 2
        assert message.startswith(f'cannot read video {path}: ')
        assert '\n' not in message
