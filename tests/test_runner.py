"""End to end through MMEngine's Runner on CPU: train, test and resume.

The config is configs/movinet_a0_stream_k600.py with only the data made tiny
(4 mp4 videos of 12 frames at 40x40, clips of 4 frames at 32x32), so the real
video path (VideoDataset, DecordInit/SampleFrames/DecordDecode, crops,
PackActionInputs, ActionDataPreprocessor), the RMSprop schedule, checkpoints
and AccMetric all run. Resuming loads a checkpoint written by CheckpointHook
(it pickles the message hub), which needs movinet_mm.compat's torch.load fix
on torch >= 2.6.
"""
import copy
import importlib.util
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch

import movinet_mm  # noqa: F401
from mmengine.hooks import Hook

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'movinet_a0_stream_k600.py')
NUM_VIDEOS = 4
FRAMES = 12
SIZE = 40  # frame height and width
CLIP_LEN = 4
FRAME_INTERVAL = 2
RESOLUTION = 32  # the smallest frame MoViNet accepts
MAX_EPOCHS = 2


@pytest.fixture(autouse=True, scope='module')
def _one_thread_no_denormals():
    """Small CPU workloads: one thread is as fast and does not thrash when
    other processes load the cores; random weights make denormals."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_num_threads(threads)


def _load_tool(name):
    path = osp.join(REPO, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'movinet_tools_{name}',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_video(path, label, codec):
    import cv2
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), 25,
                             (SIZE, SIZE))
    if not writer.isOpened():
        return False
    rng = np.random.default_rng(label)
    base = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    for t in range(FRAMES):
        frame = np.roll(base, shift=t * (label + 1), axis=1)
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    return osp.getsize(path) > 0


def make_tiny_videos(root):
    """Write NUM_VIDEOS short videos and a VideoDataset annotation file."""
    import decord
    os.makedirs(root, exist_ok=True)
    for codec, ext in (('mp4v', 'mp4'), ('MJPG', 'avi'), ('XVID', 'avi')):
        names = [f'video_{i}.{ext}' for i in range(NUM_VIDEOS)]
        try:
            ok = all(
                _write_video(osp.join(root, n), i, codec)
                for i, n in enumerate(names))
            ok = ok and all(
                len(decord.VideoReader(osp.join(root, n))) == FRAMES
                for n in names)
        except Exception:  # codec missing in this OpenCV/decord build
            ok = False
        if ok:
            break
    else:
        pytest.skip('no video codec that OpenCV writes and decord reads')
    ann_file = osp.join(root, 'tiny_list_videos.txt')
    with open(ann_file, 'w') as f:
        f.writelines(f'{n} {i}\n' for i, n in enumerate(names))
    return ann_file


def _tiny_pipeline(pipeline):
    """The config's pipeline with the tiny clip length and frame size."""
    pipeline = copy.deepcopy(pipeline)
    for step in pipeline:
        if step['type'] == 'SampleFrames':
            step['clip_len'] = CLIP_LEN
            step['frame_interval'] = FRAME_INTERVAL
        elif step['type'] == 'Resize':
            step['scale'] = ((RESOLUTION, RESOLUTION)
                             if step.get('keep_ratio') is False else
                             (-1, RESOLUTION + 4))
        elif step['type'] == 'CenterCrop':
            step['crop_size'] = RESOLUTION
    return pipeline


def tiny_config(data_root, ann_file, work_dir, experiment_name):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.ann_file = ann_file
        loader.dataset.data_prefix = dict(video=data_root)
        loader.dataset.pipeline = _tiny_pipeline(loader.dataset.pipeline)
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop',
        max_epochs=MAX_EPOCHS,
        val_begin=1,
        val_interval=1)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, save_best='auto')
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer = dict(
        type='ActionVisualizer', vis_backends=[dict(type='LocalVisBackend')])
    cfg.work_dir = work_dir
    cfg.experiment_name = experiment_name
    cfg.randomness = dict(seed=0)
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    return cfg


class ResumeProbe(Hook):
    """Records the loop position, weights and lr when training (re)starts."""

    priority = 'VERY_LOW'

    def before_train(self, runner):
        self.epoch = runner.epoch
        self.iter = runner.iter
        self.state = {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }
        self.lr = runner.optim_wrapper.get_lr()['lr'][0]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train the tiny config for MAX_EPOCHS, then test it."""
    from mmengine.runner import Runner
    torch.set_flush_denormal(True)
    root = str(tmp_path_factory.mktemp('tiny_videos'))
    ann_file = make_tiny_videos(root)
    work_dir = str(tmp_path_factory.mktemp('work'))
    cfg = tiny_config(root, ann_file, work_dir, 'movinet_tiny_train')
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    metrics = runner.test()
    return dict(root=root, ann_file=ann_file, work_dir=work_dir,
                runner=runner, losses=np.asarray(losses), metrics=metrics)


def test_tiny_videos_decode_through_the_config_pipeline(tmp_path):
    from mmaction.datasets import VideoDataset
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    ann_file = make_tiny_videos(str(tmp_path))
    cfg = tiny_config(str(tmp_path), ann_file, str(tmp_path / 'w'), 'x')
    dataset_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    dataset_cfg.pop('type')
    dataset = VideoDataset(**dataset_cfg)
    assert len(dataset) == NUM_VIDEOS
    sample = dataset[1]
    assert tuple(sample['inputs'].shape) == (1, 3, CLIP_LEN, RESOLUTION,
                                             RESOLUTION)
    assert sample['inputs'].dtype == torch.uint8
    assert int(sample['data_samples'].gt_label) == 1


def test_train_loss_is_finite(trained):
    losses = trained['losses']
    iters_per_epoch = math.ceil(NUM_VIDEOS / 2)
    assert len(losses) == MAX_EPOCHS * iters_per_epoch
    assert np.isfinite(losses).all()
    # label-smoothed cross entropy over 600 classes starts near log(600)
    assert 0 < losses[0] < 2 * math.log(600)
    runner = trained['runner']
    assert runner.epoch == MAX_EPOCHS
    assert runner.iter == MAX_EPOCHS * iters_per_epoch


def test_lr_is_scaled_to_the_batch(trained):
    # lr 1.8 at batch 1024, auto-scaled to the tiny batch of 2 and then
    # warmed up by LinearLR over 6 epochs (start factor 1e-3)
    runner = trained['runner']
    lr = runner.optim_wrapper.get_lr()['lr'][0]
    assert 0 < lr < 1.8 * 2 / 1024
    optimizer = runner.optim_wrapper.optimizer
    assert type(optimizer).__name__ == 'TFRMSprop'
    assert type(runner.optim_wrapper).__name__ == 'PerVariableClipOptimWrapper'
    assert optimizer.defaults['rho'] == 0.9
    assert optimizer.defaults['eps'] == 1.0
    assert optimizer.defaults['momentum'] == 0.9


def test_checkpoints_are_written(trained):
    work_dir = trained['work_dir']
    for epoch in range(1, MAX_EPOCHS + 1):
        assert osp.isfile(osp.join(work_dir, f'epoch_{epoch}.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith(f'epoch_{MAX_EPOCHS}.pth')


def test_test_metrics(trained):
    metrics = trained['metrics']
    for key in ('acc/top1', 'acc/top5', 'acc/mean1'):
        assert key in metrics
        assert 0.0 <= float(metrics[key]) <= 1.0


def test_resume_from_checkpoint(trained, tmp_path):
    from mmengine.runner import Runner
    torch.set_flush_denormal(True)
    checkpoint = osp.join(trained['work_dir'], 'epoch_1.pth')
    saved = torch.load(checkpoint, map_location='cpu', weights_only=False)
    # CheckpointHook pickles the message hub: a plain weights_only load
    # (torch >= 2.6's default) cannot read it; movinet_mm.compat's loader can
    assert 'message_hub' in saved and 'optimizer' in saved

    cfg = tiny_config(trained['root'], trained['ann_file'],
                      str(tmp_path / 'resume'), 'movinet_tiny_resume')
    cfg.resume = True
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    probe = ResumeProbe()
    runner.register_hook(probe)
    runner.train()

    iters_per_epoch = math.ceil(NUM_VIDEOS / 2)
    assert probe.epoch == 1
    assert probe.iter == iters_per_epoch
    for key, value in saved['state_dict'].items():
        torch.testing.assert_close(probe.state[key], value, msg=key)
    # the optimizer and schedulers resumed too: the lr at the restart is
    # the one the first run had after epoch 1
    assert probe.lr == pytest.approx(saved['optimizer']['param_groups'][0]
                                     ['lr'])
    assert runner.epoch == MAX_EPOCHS
    assert runner.iter == MAX_EPOCHS * iters_per_epoch
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert np.isfinite(losses).all()
    assert osp.isfile(str(tmp_path / 'resume' / f'epoch_{MAX_EPOCHS}.pth'))


# ---------------------------------------------------------------- tools
@pytest.mark.parametrize('tool', ['train', 'test'])
def test_tools_accept_both_local_rank_spellings(tool, monkeypatch):
    module = _load_tool(tool)
    extra = [] if tool == 'train' else ['ckpt.pth']
    for flag in ('--local-rank', '--local_rank'):
        monkeypatch.delenv('LOCAL_RANK', raising=False)
        args = module.parse_args([CONFIG, *extra, '--launcher', 'pytorch',
                                  f'{flag}=3', '--amp', '--work-dir', 'w',
                                  '--cfg-options', 'a.b=1'])
        assert args.local_rank == 3
        assert os.environ['LOCAL_RANK'] == '3'
    # torchrun sets LOCAL_RANK itself; the flag must not override it
    monkeypatch.setenv('LOCAL_RANK', '1')
    module.parse_args([CONFIG, *extra, '--local-rank', '0'])
    assert os.environ['LOCAL_RANK'] == '1'


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_tools_help_does_not_offer_gpus(tool, capsys):
    # `mim train/test` appends --gpus N when the script's help mentions it
    module = _load_tool(tool)
    with pytest.raises(SystemExit):
        module.parse_args(['-h'])
    assert '--gpus' not in capsys.readouterr().out


def test_train_tool_merges_arguments(monkeypatch):
    from mmengine.config import Config
    module = _load_tool('train')
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = module.parse_args([
        CONFIG, '--amp', '--resume', 'x.pth', '--launcher', 'pytorch',
        '--cfg-options', 'train_dataloader.batch_size=3'
    ])
    cfg = module.merge_args(Config.fromfile(CONFIG), args)
    assert cfg.optim_wrapper.type == 'PerVariableClipAmpOptimWrapper'
    assert cfg.resume is True and cfg.load_from == 'x.pth'
    assert cfg.train_dataloader.batch_size == 3
    assert cfg.work_dir == osp.join('./work_dirs', 'movinet_a0_stream_k600')
    assert cfg.launcher == 'pytorch'
    args = module.parse_args([CONFIG, '--resume'])
    cfg = module.merge_args(Config.fromfile(CONFIG), args)
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.launcher == 'none'


def test_mim_finds_the_tools_and_configs():
    # `mim train/test movinet_mm` runs <package>/.mim/tools/*.py and finds
    # configs under <package>/.mim/configs (symlinks to the repo's folders)
    package = osp.dirname(movinet_mm.__file__)
    for path in ('.mim/tools/train.py', '.mim/tools/test.py',
                 '.mim/tools/dist_train.sh', '.mim/tools/dist_test.sh',
                 '.mim/tools/analysis/get_flops.py',
                 '.mim/configs/movinet_a0_k600.py',
                 '.mim/configs/_base_/default_runtime.py'):
        assert osp.isfile(osp.join(package, path)), path
