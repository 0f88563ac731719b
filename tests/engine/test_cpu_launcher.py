"""Multi-process training on CPU: movinet_mm.compat's launcher fix.

MMEngine 0.10.7's launchers call torch.cuda.set_device, the Runner gives DDP
CUDA device ids and converts BN to SyncBatchNorm: without the fix a
2-process run on CPU fails. Checked in-process on the patched functions, and
end to end with `mim train --launcher pytorch -G 2` and
`tools/dist_train.sh CONFIG 2` (torchrun) on a few synthetic clips.
"""
import os
import os.path as osp
import sys

import pytest
import torch
from runs import (
    CONFIG,
    REPO,
    checkpoint_iter,
    free_port,
    last_checkpoint,
    make_data,
    run,
    tiny_options,
)
from torch import nn

pytestmark = pytest.mark.skipif(torch.cuda.is_available(),
                                reason='checks the CPU-only code path')


@pytest.fixture
def single_process_group(monkeypatch):
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(key, value)
    yield
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def test_pytorch_launcher_initialises_gloo_without_cuda(single_process_group):
    import mmengine.dist.utils as dist_utils

    import movinet_mm.compat  # noqa: F401
    # what init_dist('pytorch', backend='nccl') calls: the config default
    dist_utils._init_dist_pytorch('nccl')
    assert torch.distributed.get_backend() == 'gloo'
    assert torch.distributed.get_world_size() == 1


def test_ddp_wrapper_and_sync_bn_on_cpu(single_process_group):
    import mmengine.runner.runner as runner_module
    from mmengine.model import BaseModel, MMDistributedDataParallel

    import movinet_mm.compat  # noqa: F401
    torch.distributed.init_process_group('gloo')

    class Tiny(BaseModel):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(3)
            self.fc = nn.Linear(3, 2)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return self.fc(self.bn(inputs))

    model = runner_module.convert_sync_batchnorm(Tiny(), 'torch')
    assert type(model.bn) is nn.BatchNorm1d  # SyncBN needs an accelerator
    # Runner.wrap_model passes CUDA device ids: [LOCAL_RANK]
    ddp = MMDistributedDataParallel(module=model, device_ids=[0],
                                    broadcast_buffers=False)
    assert ddp.device_ids is None
    ddp(torch.randn(4, 3)).sum().backward()


def _check_two_process_run(work, out, epochs):
    assert 'using the gloo backend' in out
    ckpt = last_checkpoint(work)
    assert ckpt.endswith(f'epoch_{epochs}.pth')
    # 8 clips over 2 processes of 2 clips: 2 iterations per epoch
    assert checkpoint_iter(ckpt) == 2 * epochs
    logs = [osp.join(work, d, f'{d}.log') for d in os.listdir(work)
            if osp.isfile(osp.join(work, d, f'{d}.log'))]
    with open(logs[0]) as f:
        log = f.read()
    assert 'Distributed training: True' in log
    assert 'Epoch(val)' in log


def test_mim_train_two_processes_on_cpu(tmp_path):
    data = make_data(str(tmp_path / 'data'))
    work = str(tmp_path / 'work')
    out = run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', CONFIG,
               '--launcher', 'pytorch', '-G', '2', '--port',
               str(free_port()), '--work-dir', work,
               *tiny_options(data, 1, batch=2)])
    _check_two_process_run(work, out, 1)


def test_dist_train_sh_two_processes_on_cpu(tmp_path):
    data = make_data(str(tmp_path / 'data'))
    work = str(tmp_path / 'work')
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()))
    out = run(['bash', osp.join(REPO, 'tools', 'dist_train.sh'), CONFIG, '2',
               '--work-dir', work, *tiny_options(data, 1, batch=2)],
              env=env)
    _check_two_process_run(work, out, 1)
