import warnings

import pytest
import torch

import movinet_mm  # noqa: F401  (registers the modules, applies compat)

warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
# Randomised weights drive activations into denormal floats, which are ~50x
# slower on x86 CPUs; flushing them changes nothing at our tolerances.
torch.set_flush_denormal(True)


@pytest.fixture(autouse=True, scope='session')
def mmaction_scope():
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=True)
