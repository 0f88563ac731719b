"""The stream test loop under DDP on CPU (2 processes, gloo) = one process."""
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import torch
from helpers import REPO, backbone_cfg, randomize_
from mmaction.registry import MODELS
from videos import write_dataset

CONFIG = """
default_scope = 'mmaction'
custom_imports = dict(imports=['movinet_mm'], allow_failed_imports=False)
model = dict(
    type='MoViNetRecognizer',
    backbone={backbone!r},
    cls_head=dict(type='MoViNetHead', num_classes=3, in_channels=480,
                  average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[0., 0., 0.],
                           std=[255., 255., 255.], format_shape='NCTHW'))
test_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VideoDataset', ann_file={ann!r},
                 data_prefix=dict(video={root!r}), test_mode=True,
                 pipeline=[
                     dict(type='DecordInit'),
                     dict(type='SampleAllFrames', frame_interval=1),
                     dict(type='DecordDecode'),
                     dict(type='Resize', scale=(-1, 36)),
                     dict(type='CenterCrop', crop_size=32),
                     dict(type='FormatShape', input_format='NCTHW'),
                     dict(type='PackActionInputs'),
                 ]))
test_evaluator = dict(type='AccMetric')
test_cfg = dict(type='StreamTestLoop', chunk_size=3, num_trace_points=4)
custom_hooks = [dict(type='StreamEvalHook', plot=False)]
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_level = 'WARNING'
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run(args, work_dir, env):
    out = subprocess.run(args + ['--work-dir', work_dir, '--dump',
                                 osp.join(work_dir, 'preds.pkl')],
                         capture_output=True, text=True, timeout=600,
                         env=env, cwd=REPO)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    with open(osp.join(work_dir, 'preds.pkl'), 'rb') as f:
        return pickle.load(f)


def test_two_processes_give_the_same_predictions(tmp_path):
    root = str(tmp_path / 'videos')
    os.makedirs(root)
    ann = write_dataset(root, [5, 9, 7, 6, 8])
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CONFIG.format(backbone=backbone_cfg('a0', True), ann=ann,
                                 root=root))
    model = MODELS.build(dict(
        type='MoViNetRecognizer', backbone=backbone_cfg('a0', True),
        cls_head=dict(type='MoViNetHead', num_classes=3, in_channels=480)))
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': randomize_(model, seed=5).state_dict()}, ckpt)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    test = osp.join(REPO, 'tools', 'test.py')
    single = run([sys.executable, test, str(cfg), ckpt],
                 str(tmp_path / 'one'), env)
    double = run([sys.executable, '-m', 'torch.distributed.run',
                  '--nproc_per_node=2', f'--master_port={free_port()}', test,
                  str(cfg), ckpt, '--launcher', 'pytorch'],
                 str(tmp_path / 'two'), env)
    assert len(single) == len(double) == 5
    for a, b in zip(single, double):
        assert int(a['gt_label']) == int(b['gt_label'])
        torch.testing.assert_close(a['pred_score'], b['pred_score'],
                                   atol=1e-5, rtol=0)
