"""Fine-tuning configs take a K600 checkpoint without its classifier;
sub-clip training under `mim train -G 2`."""
import os
import os.path as osp
import sys

import pytest
from helpers import REPO, build_recognizer

import movinet_mm  # noqa: F401


@pytest.mark.parametrize('name', [
    'movinet_a0_ucf101_split1.py', 'movinet_a0_stream_ucf101_split1.py',
    'movinet_a0_hmdb51_split1.py', 'movinet_a0_stream_hmdb51_split1.py',
    'movinet_a0_ucf101_split1_rawframes.py'])
def test_finetune_configs_take_a_k600_checkpoint_without_classifier(name):
    """What `convert_tf_checkpoint.py --finetune` writes fits every tensor
    but the new classifier."""
    from mmaction.registry import MODELS
    from mmengine.config import Config

    from movinet_mm.utils import load_state_dict_checked
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'finetune', name))
    model = MODELS.build(cfg.model)
    stream = cfg.model.backbone.get('causal', False)
    k600 = build_recognizer('a0', stream, '3d_2plus1d' if stream else '3d')
    state = {k: v for k, v in k600.state_dict().items()
             if not k.startswith('cls_head.fc_cls.')}
    report = load_state_dict_checked(model, state, 'k600', strict=False)
    assert report.missing == ['cls_head.fc_cls.weight', 'cls_head.fc_cls.bias']
    assert not report.unexpected and not report.mismatched
    expected = 51 if 'hmdb51' in name else 101
    assert model.cls_head.num_classes == expected
    assert cfg.load_from.startswith('checkpoints/movinet_a0_')


@pytest.mark.slow
def test_mim_train_two_processes_with_sub_clips(tmp_path):
    """`mim train --launcher pytorch -G 2` with train_cfg.sub_clips=2: the
    Runner picks SubClipDistributedDataParallel by itself."""
    from runs import (
        CONFIG,
        checkpoint_iter,
        free_port,
        last_checkpoint,
        make_data,
        run,
        tiny_options,
    )
    data = make_data(str(tmp_path / 'data'))
    work = str(tmp_path / 'work')
    options = tiny_options(data, 1, batch=2)
    out = run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', CONFIG,
               '--launcher', 'pytorch', '-G', '2', '--port',
               str(free_port()), '--work-dir', work, *options,
               'model.train_cfg.sub_clips=2'])
    assert 'using the gloo backend' in out
    assert checkpoint_iter(last_checkpoint(work)) == 2
    logs = ''.join(open(osp.join(work, d, f'{d}.log')).read()
                   for d in os.listdir(work)
                   if osp.isfile(osp.join(work, d, f'{d}.log')))
    assert 'wrapping the model in SubClipDistributedDataParallel' in logs
    assert 'Epoch(train)' in logs
