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
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import load_tool
from mmengine.hooks import Hook
from tiny_runner import (
    CLIP_LEN,
    CONFIG,
    MAX_EPOCHS,
    NUM_VIDEOS,
    RESOLUTION,
    make_tiny_videos,
    tiny_config,
)

import movinet_mm  # noqa: F401


@pytest.fixture(autouse=True, scope='module')
def _one_thread_no_denormals():
    """Small CPU workloads: one thread is as fast and does not thrash when
    other processes load the cores; random weights make denormals."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_num_threads(threads)


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
    module = load_tool(f'tools/{tool}.py')
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
    module = load_tool(f'tools/{tool}.py')
    with pytest.raises(SystemExit):
        module.parse_args(['-h'])
    assert '--gpus' not in capsys.readouterr().out


def test_train_tool_merges_arguments(monkeypatch):
    from mmengine.config import Config
    module = load_tool('tools/train.py')
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
