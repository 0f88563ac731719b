"""Subprocess runs of the tools and `mim`, as a user runs them, on small
synthetic data (shared by the demo, search and multi-process tests)."""
import math
import os
import os.path as osp
import socket
import subprocess
import sys

import torch
from helpers import REPO

CONFIG = 'configs/movinet_a0_stream_synthetic.py'
PER_CLASS = 1  # 8 training clips
BATCH = 4
ITERS_PER_EPOCH = math.ceil(8 * PER_CLASS / BATCH)
TIMEOUT = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(cmd, cwd=REPO, timeout=TIMEOUT, env=None):
    """Run a command; on failure show its output."""
    env = dict(os.environ if env is None else env)
    env.setdefault('OMP_NUM_THREADS', '1')  # small tensors; no oversubscription
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, \
        f'{" ".join(map(str, cmd))} failed:\n{proc.stdout[-6000:]}'
    return proc.stdout


def make_data(root: str) -> str:
    run([sys.executable, 'tools/data/generate_synthetic.py', '--out', root,
         '--train-per-class', str(PER_CLASS), '--val-per-class', '1',
         '--test-per-class', '1', '--frames', '16', '--size', '40',
         '--quiet'])
    return root


def data_options(root: str):
    """--cfg-options that point the demo config at another data set."""
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.ann_file='
                 f'{root}/{split}_list_videos.txt',
                 f'{split}_dataloader.dataset.data_prefix.video='
                 f'{root}/videos']
    return opts


def tiny_options(root: str, epochs: int, batch: int = BATCH):
    return ['--cfg-options', *data_options(root),
            f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
            f'train_dataloader.batch_size={batch}',
            'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.max_keep_ckpts=-1']


def mim_train(work_dir, root, epochs, *extra, timeout=TIMEOUT):
    return run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', CONFIG,
                *extra, '--work-dir', work_dir,
                *tiny_options(root, epochs)], timeout=timeout)


def checkpoint_iter(path: str) -> int:
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    return int(ckpt['meta']['iter'])


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()
