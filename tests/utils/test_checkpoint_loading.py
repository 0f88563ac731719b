"""Checkpoints must fit their model: describe, check and load them."""

import pytest
import torch
from helpers import build_recognizer, randomize_

import movinet_mm  # noqa: F401
from movinet_mm.utils import (
    CheckpointError,
    describe_checkpoint,
    load_checked_checkpoint,
    read_checkpoint,
)


def _save(model, path, **extra):
    torch.save({'state_dict': model.state_dict(), 'meta': {'seed': 1},
                **extra}, path)
    return str(path)


@pytest.mark.parametrize('arch,stream,conv_type,expected', [
    ('a0', False, '3d', 'MoViNet-A0 base (3d'),
    ('a1', True, '3d_2plus1d', 'MoViNet-A1 stream (3d_2plus1d, SE 2plus3d)'),
    ('a3', True, '2plus1d', 'MoViNet-A3 stream (2plus1d, SE 2plus3d, pos. '
     'enc.)'),
    ('t0', False, '3d', 'MoViNet-T0 base'),
])
def test_describe_checkpoint_guesses_the_model(arch, stream, conv_type,
                                               expected):
    model = build_recognizer(arch, stream, conv_type, num_classes=7)
    text = describe_checkpoint(model.state_dict())
    assert text.startswith(expected), text
    assert text.endswith('7 classes')
    # DDP-style keys describe the same
    wrapped = {f'module.{k}': v for k, v in model.state_dict().items()}
    assert describe_checkpoint(wrapped) == text


def test_describe_checkpoint_custom_and_not_movinet():
    custom = dict(stem_channels=8, blocks=[dict(out_channels=16, layers=[
        (24, (3, 3, 3), (1, 2, 2))])], project_channels=32, head_channels=64)
    model = build_recognizer('a0', False)
    model = type(model)(
        backbone=dict(type='MoViNet', arch=custom),
        cls_head=dict(type='MoViNetHead', num_classes=3, in_channels=32,
                      hidden_channels=64))
    assert describe_checkpoint(model).startswith('MoViNet-custom base')
    assert 'no MoViNet' in describe_checkpoint({'fc.weight': torch.zeros(2)})


def test_checkpoint_of_another_model_is_one_error(tmp_path):
    a0 = build_recognizer('a0', True, '3d_2plus1d')
    path = _save(build_recognizer('a1', True, '3d_2plus1d'),
                 tmp_path / 'a1_stream.pth')
    with pytest.raises(CheckpointError) as info:
        load_checked_checkpoint(a0, path)
    message = str(info.value)
    assert '\n' not in message
    assert 'a1_stream.pth' in message
    assert 'holds MoViNet-A1 stream (3d_2plus1d' in message
    assert 'model is MoViNet-A0 stream (3d_2plus1d' in message
    assert '371 of other shape' in message
    # base vs stream, and classes
    base = _save(build_recognizer('a0', False), tmp_path / 'a0_base.pth')
    with pytest.raises(CheckpointError, match='holds MoViNet-A0 base .*600 '
                       'classes, the model is MoViNet-A0 stream'):
        load_checked_checkpoint(a0, base)
    classes = build_recognizer('a0', True, '3d_2plus1d', num_classes=5)
    with pytest.raises(CheckpointError, match='600 classes, the model is '
                       r'.*5 classes; 2 of other shape'):
        load_checked_checkpoint(classes, _save(a0, tmp_path / 'a0.pth'))


def test_non_strict_loads_what_fits_and_says_what_not(tmp_path, caplog):
    import logging
    source = randomize_(build_recognizer('a0', True, '3d_2plus1d'))
    path = _save(source, tmp_path / 'k600.pth')
    target = build_recognizer('a0', True, '3d_2plus1d', num_classes=5)
    with caplog.at_level(logging.INFO, logger='hardening'):
        meta = load_checked_checkpoint(target, path, strict=False,
                                       logger=logging.getLogger('hardening'))
    assert meta == {'seed': 1}
    for key, value in source.state_dict().items():
        if not key.startswith('cls_head.fc_cls'):
            torch.testing.assert_close(target.state_dict()[key], value)
    out = caplog.text
    lines = [line for line in out.splitlines() if 'not loaded' in line]
    assert len(lines) == 1, out
    assert 'loaded 449 of 451 tensors' in lines[0]
    assert 'cls_head.fc_cls.weight [600, 2048] vs [5, 2048]' in lines[0]
    # a fitting checkpoint loads strictly
    same = build_recognizer('a0', True, '3d_2plus1d')
    load_checked_checkpoint(same, path)
    torch.testing.assert_close(same.state_dict()['backbone.stem.conv.weight'],
                               source.state_dict()['backbone.stem.conv.weight'])


@pytest.mark.parametrize('content,expected', [
    (b'', 'is empty'),
    (b'not a checkpoint at all', 'is not a torch checkpoint'),
    (None, 'no such file'),
    ('dir', 'is a directory'),
    ('nontensor', 'non-tensor entries'),
    ('list', 'holds no state dict'),
])
def test_unreadable_checkpoints_name_the_file(tmp_path, content, expected):
    path = tmp_path / 'ckpt.pth'
    if content == 'dir':
        path.mkdir()
    elif content == 'nontensor':
        torch.save({'state_dict': {'a': torch.zeros(1), 'b': 'text'}}, path)
    elif content == 'list':
        torch.save([1, 2], path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(str(path))
    message = str(info.value)
    assert expected in message and '\n' not in message
    assert 'ckpt.pth' in message
