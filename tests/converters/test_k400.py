"""The official Kinetics-400 base checkpoints (``movinet_a*_base_k400``):
400 classes detected, class names and the paired config in the meta, and a
K400 checkpoint in a K600 model (or the reverse) is one clear error."""
import os.path as osp

import pytest
import torch
from helpers import REPO
from test_tf_checkpoint import (
    make_tar,
    official_vars,
    run_tool,
    write_tf_checkpoint,
)

from movinet_mm.converters.convert import paired_config
from movinet_mm.converters.kinetics_labels import (
    KINETICS400_CLASSES,
    class_names_for,
)
from movinet_mm.utils import CheckpointError, load_checked_checkpoint


def _config_model(name):
    from mmaction.registry import MODELS
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def a0_k400(tmp_path_factory):
    """A fake ``movinet_a0_base_k400.tar.gz`` and its conversion."""
    model, tf_vars = official_vars('a0', 'base', num_classes=400, seed=11)
    folder = tmp_path_factory.mktemp('k400')
    write_tf_checkpoint(folder / 'movinet_a0_base_k400', tf_vars)
    tar = make_tar(folder / 'movinet_a0_base_k400',
                   folder / 'movinet_a0_base_k400.tar.gz',
                   'movinet_a0_base_k400')
    dst = folder / 'movinet_a0_k400.pth'
    code, out, err = run_tool([tar, dst, '--arch', 'a0', '--mode', 'base'])
    assert code == 0, err
    return model, dst, out


def test_kinetics400_class_names():
    assert len(KINETICS400_CLASSES) == 400
    assert len(set(KINETICS400_CLASSES)) == 400
    assert list(KINETICS400_CLASSES) == sorted(KINETICS400_CLASSES)
    assert KINETICS400_CLASSES[0] == 'abseiling'
    assert KINETICS400_CLASSES[-1] == 'zumba'
    assert "massaging person's head" in KINETICS400_CLASSES
    assert all(n == n.strip() and n for n in KINETICS400_CLASSES)
    assert class_names_for(400) == list(KINETICS400_CLASSES)
    assert class_names_for(600) is None and class_names_for(51) is None


def test_paired_config():
    assert paired_config('a0', 'base', 400) == 'configs/movinet_a0_k400.py'
    assert paired_config('a5', 'base', 400) == 'configs/movinet_a5_k400.py'
    assert paired_config('a0', 'base', 600) == 'configs/movinet_a0_k600.py'
    assert paired_config('a3', 'stream', 600) == \
        'configs/movinet_a3_stream_k600.py'
    assert paired_config('t0', 'base', 600) == 'configs/movinet_t0_k600.py'
    # no K400 stream checkpoints, no T0 K400 config, no other data sets
    assert paired_config('a0', 'stream', 400) is None
    assert paired_config('t0', 'base', 400) is None
    assert paired_config('a0', 'base', 51) is None
    for arch in ('a0', 'a1', 'a2', 'a3', 'a4', 'a5'):
        for classes, mode in ((400, 'base'), (600, 'base'), (600, 'stream')):
            assert osp.isfile(osp.join(REPO, paired_config(arch, mode,
                                                           classes)))


def test_k400_checkpoint_converts_with_class_names(a0_k400):
    model, dst, out = a0_k400
    assert '400 classes' in out
    assert ("class names: the 400 Kinetics-400 classes ('abseiling' ... "
            "'zumba'), in meta['class_names']") in out
    assert 'config: configs/movinet_a0_k400.py (400 classes)' in out
    ckpt = torch.load(dst, weights_only=True)
    meta = ckpt['meta']
    assert meta['num_classes'] == meta['checkpoint_num_classes'] == 400
    assert meta['class_names'] == list(KINETICS400_CLASSES)
    assert meta['config'] == 'configs/movinet_a0_k400.py'
    assert meta['converted_from'] == 'movinet_a0_base_k400.tar.gz'
    state = ckpt['state_dict']
    assert state['cls_head.fc_cls.weight'].shape == (400, 2048)
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key


def test_k400_checkpoint_fits_the_k400_config(a0_k400):
    model, dst, _ = a0_k400
    k400 = _config_model('movinet_a0_k400.py').eval()
    meta = load_checked_checkpoint(k400, str(dst))
    assert meta['num_classes'] == 400
    x = torch.rand(1, 1, 3, 4, 32, 32)  # [N, views, C, T, H, W]
    with torch.no_grad():
        logits = k400.cls_head(k400.extract_feat(x)[0])
        expected = model.eval().cls_head(model.extract_feat(x)[0])
    assert logits.shape == (1, 400)
    assert torch.allclose(logits, expected)


def _one_line_error(model, path):
    with pytest.raises(CheckpointError) as info:
        load_checked_checkpoint(model, str(path))
    message = str(info.value)
    assert '\n' not in message
    return message


def test_k400_checkpoint_in_a_k600_config_is_one_line(a0_k400):
    _, dst, _ = a0_k400
    message = _one_line_error(_config_model('movinet_a0_k600.py'), dst)
    assert message.startswith('checkpoint movinet_a0_k400.pth does not fit '
                              'the model')
    assert 'the checkpoint holds MoViNet-A0 base' in message
    assert '400 classes, the model is MoViNet-A0 base' in message
    assert message.count('600 classes') == 1
    assert 'cls_head.fc_cls.weight [400, 2048] vs [600, 2048]' in message
    assert str(dst) in message


def test_k600_checkpoint_in_a_k400_config_is_one_line(tmp_path):
    _, tf_vars = official_vars('a0', 'base', seed=12)
    write_tf_checkpoint(tmp_path / 'movinet_a0_base', tf_vars)
    dst = tmp_path / 'movinet_a0_k600.pth'
    code, out, err = run_tool([tmp_path / 'movinet_a0_base', dst, '--arch',
                               'a0', '--mode', 'base'])
    assert code == 0, err
    assert 'config: configs/movinet_a0_k600.py (600 classes)' in out
    assert 'class names' not in out  # no bundled Kinetics-600 list
    meta = torch.load(dst, weights_only=True)['meta']
    assert 'class_names' not in meta
    message = _one_line_error(_config_model('movinet_a0_k400.py'), dst)
    assert message.startswith('checkpoint movinet_a0_k600.pth does not fit')
    assert '600 classes, the model is MoViNet-A0 base' in message
    assert message.endswith('load non-strictly only if you mean to)')
    assert 'cls_head.fc_cls.weight [600, 2048] vs [400, 2048]' in message


def test_k400_finetune_drops_names(a0_k400, tmp_path):
    tar = osp.join(osp.dirname(a0_k400[1]), 'movinet_a0_base_k400.tar.gz')
    dst = tmp_path / 'ft.pth'
    code, out, err = run_tool([tar, dst, '--arch', 'a0', '--mode', 'base',
                               '--num-classes', '157', '--finetune'])
    assert code == 0, err
    assert 'dropped the 400-class classifier' in out
    meta = torch.load(dst, weights_only=True)['meta']
    assert 'class_names' not in meta and 'config' not in meta
    assert meta['num_classes'] == 157
