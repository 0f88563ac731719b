import os
import warnings

import pytest
import torch

import movinet_mm  # noqa: F401  (registers the modules, applies compat)

warnings.filterwarnings(
    'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
# Randomised weights drive activations into denormal floats, which are ~50x
# slower on x86 CPUs; flushing them changes nothing at our tolerances.
torch.set_flush_denormal(True)
# With pytest-xdist each worker gets one core: more threads only fight.
if os.environ.get('PYTEST_XDIST_WORKER'):
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope='session')
def mmaction_scope():
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=True)
