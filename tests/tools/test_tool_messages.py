"""What the tools print: one error line under mim, class names in the torch
stream demo, no torchao kernel-library warnings on ExecuTorch runs."""
import os.path as osp
import subprocess
import sys

import torch
from helpers import REPO, load_tool
from tiny_export import tiny_config
from videos import moving_square, write_video

CONFIG = osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic.py')
NAMES = ['walk', 'run', 'jump']


def test_mim_test_error_is_one_line_without_traceback(tmp_path):
    run = subprocess.run(
        [sys.executable, '-m', 'mim', 'test', 'movinet_mm', CONFIG,
         '--checkpoint', 'missing.pth'],
        capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output  # the tool's exit code
    errors = [line for line in output.splitlines()
              if line.startswith('error:')]
    assert errors == ['error: checkpoint missing.pth: no such file'], output
    assert 'Traceback' not in output and 'CalledProcessError' not in output
    assert 'pkg_resources is deprecated' not in output


def test_finetune_config_inherited_from_outside_the_repository(tmp_path):
    """A user's config anywhere inherits ours as ``mmaction::`` ones are."""
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.runner import Runner

    import movinet_mm  # noqa: F401  (our tools import it before the config)
    config = tmp_path / 'my_videos.py'
    config.write_text(
        "_base_ = 'movinet_mm::finetune/movinet_a0_ucf101_split1.py'\n"
        'model = dict(cls_head=dict(num_classes=7))\n'
        f'work_dir = {str(tmp_path / "work")!r}\n')
    cfg = Config.fromfile(str(config))
    assert cfg.model.cls_head.num_classes == 7
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'  # the recipe's
    assert MODELS.build(cfg.model).cls_head.num_classes == 7
    cfg.load_from = None
    runner = Runner.from_cfg(cfg)  # hooks, visualizer, loops' registries
    assert type(runner.model).__name__ == 'MoViNetRecognizer'


def stream_demo_output(capsys, *args):
    demo = load_tool('tools/stream_demo.py')
    demo.main([str(a) for a in args])
    return capsys.readouterr().out


def test_torch_stream_demo_prints_class_names(tmp_path, capsys):
    video = write_video(str(tmp_path / 'clip.avi'), moving_square(6, 40))
    config = tiny_config(tmp_path, 3, f'class_names = {NAMES!r}\n')
    final = stream_demo_output(capsys, config, 'none', video, '--topk',
                               3).splitlines()[-1]
    assert final.startswith('final top-3: ')
    assert all(name in final for name in NAMES), final

    # no names in the config: those of the checkpoint's dataset_meta
    from mmengine.config import Config
    from mmengine.registry import MODELS
    plain = tiny_config(tmp_path, 3)
    checkpoint = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': MODELS.build(Config.fromfile(plain).model)
                .state_dict(),
                'meta': {'dataset_meta': {'classes': NAMES}}}, checkpoint)
    final = stream_demo_output(capsys, plain, checkpoint, video, '--topk',
                               3).splitlines()[-1]
    assert all(name in final for name in NAMES), final


def test_executorch_import_hides_torchao_kernel_warnings():
    code = ('from movinet_mm.deploy.export import require\n'
            "require('executorch')\n"
            'from executorch.runtime import Runtime  # noqa\n'
            'import torchao  # noqa\n')
    run = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stderr
    assert 'Failed to load' not in run.stderr, run.stderr
    assert '_C_cutlass' not in run.stderr, run.stderr
