"""tools/test.py and tools/train.py: checkpoints of another model are refused,
what fits loads with a one-line summary."""
import os
import os.path as osp

import pytest
import torch
from helpers import build_recognizer, load_tool, randomize_

import movinet_mm  # noqa: F401


def _save(model, path, **extra):
    torch.save({'state_dict': model.state_dict(), 'meta': {'seed': 1},
                **extra}, path)
    return str(path)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """The tiny video config of test_runner.py as a file, and an A0-stream
    checkpoint that fits it."""
    from tiny_runner import make_tiny_videos, tiny_config
    root = str(tmp_path_factory.mktemp('hardening_videos'))
    ann_file = make_tiny_videos(root)
    work = tmp_path_factory.mktemp('hardening_work')
    cfg = tiny_config(root, ann_file, str(work / 'run'), 'hardening')
    cfg.train_cfg.max_epochs = 1
    config = str(work / 'tiny_config.py')
    cfg.dump(config)
    from mmaction.registry import MODELS
    model = randomize_(MODELS.build(cfg.model))
    fits = _save(model, work / 'fits.pth')
    other = _save(build_recognizer('a1', True, '3d_2plus1d'),
                  work / 'a1_stream.pth')
    return dict(config=config, fits=fits, other=other, work=work, cfg=cfg,
                model=model)


def test_test_tool_refuses_a_checkpoint_of_another_model(tiny, capsys):
    tool = load_tool('tools/test.py')
    work = str(tiny['work'] / 'test_other')
    with pytest.raises(SystemExit) as info:
        tool.main([tiny['config'], tiny['other'], '--work-dir', work])
    message = str(info.value)
    assert message.startswith('error: checkpoint a1_stream.pth does not fit')
    assert 'MoViNet-A1 stream' in message and 'MoViNet-A0 stream' in message
    assert '\n' not in message
    # empty file: named, before anything is built
    empty = tiny['work'] / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(SystemExit, match=f'checkpoint {empty} is empty'):
        tool.main([tiny['config'], str(empty), '--work-dir', work])


@pytest.mark.slow
def test_test_tool_non_strict_and_fitting_checkpoints_run(tiny):
    tool = load_tool('tools/test.py')

    def run(name, *args):
        # one experiment name per run: MMEngine names its logger by name and
        # start second, so two runs in one second would share a log file
        tool.main([tiny['config'], tiny['fits'], *args, '--work-dir',
                   str(tiny['work'] / name), '--cfg-options',
                   'log_level=INFO', f'experiment_name={name}', *options])

    options = []
    run('test_fits')
    log = _read_logs(tiny['work'] / 'test_fits')
    assert 'Load checkpoint from' in log and 'acc/top1' in log
    # the 600-class head does not fit a 4-class config: strict refuses,
    # --non-strict loads the rest and says so in one line
    options = ['model.cls_head.num_classes=4']
    with pytest.raises(SystemExit, match='2 of other shape'):
        run('test_strict')
    run('test_nonstrict', '--non-strict')
    log = _read_logs(tiny['work'] / 'test_nonstrict')
    assert 'loaded 449 of 451 tensors' in log and 'acc/top1' in log


def _read_logs(work_dir):
    text = ''
    for root, _, names in os.walk(work_dir):
        for name in names:
            if name.endswith('.log'):
                with open(osp.join(root, name)) as f:
                    text += f.read()
    return text


def test_finetuning_load_from_ends_with_a_one_line_summary(tiny):
    from mmaction.registry import RUNNERS
    from mmengine.hooks import Hook
    cfg = tiny['cfg'].copy()
    cfg.model.cls_head.num_classes = 4
    cfg.load_from = tiny['fits']
    cfg.work_dir = str(tiny['work'] / 'finetune')
    cfg.runner_type = 'CheckedLoadRunner'
    cfg.log_level = 'INFO'
    cfg.experiment_name = 'finetune'  # its own logger (see the test above)

    class Probe(Hook):
        def before_train(self, runner):
            self.stem = runner.model.state_dict()[
                'backbone.stem.conv.weight'].clone()
            self.cls = runner.model.state_dict()['cls_head.fc_cls.weight']

    probe = Probe()
    runner = RUNNERS.build(cfg)
    runner.register_hook(probe)
    runner.train()
    torch.testing.assert_close(
        probe.stem, tiny['model'].state_dict()['backbone.stem.conv.weight'])
    assert probe.cls.shape == (4, 2048)
    log = _read_logs(cfg.work_dir)
    lines = [line for line in log.splitlines() if 'not loaded' in line]
    assert len(lines) == 1
    assert 'loaded 449 of 451 tensors' in lines[0]
    assert 'size mismatch' not in log  # MMEngine's own, per-key report
