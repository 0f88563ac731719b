"""tools/analysis/get_flops.py and movinet_mm.analysis.flops against the
official analytic MAC counts."""
import importlib.util
import os.path as osp

import pytest
import torch
from helpers import REPO, load_tool

from movinet_mm.analysis import flops

TOOL = osp.join(REPO, 'tools', 'analysis', 'get_flops.py')
CONFIG_DIR = osp.join(REPO, 'configs')


@pytest.fixture(autouse=True, scope='module')
def _one_thread_no_denormals():
    """Small CPU workloads: one thread is as fast and does not thrash when
    other processes load the cores; random weights make denormals."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def get_flops():
    torch.set_flush_denormal(True)
    spec = importlib.util.spec_from_file_location('movinet_get_flops', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a0_base_matches_the_official_macs(get_flops, capsys):
    # official analytic count of MoViNet-A0 base at 50x172x172: 2.63 GMACs
    result = get_flops.main([osp.join(CONFIG_DIR, 'movinet_a0_k600.py'),
                             '--shape', '50', '172', '172'])
    assert result['shape'] == (50, 172, 172)
    assert result['macs'] / 1e9 == pytest.approx(2.63, rel=0.03)
    assert result['params'] == 3_111_799
    out = capsys.readouterr().out
    for text in ('Input shape', '1 x 3 x 50 x 172 x 172', 'GMACs', 'Params',
                 '3,111,799'):
        assert text in out


def test_default_shape_is_the_test_clip(get_flops):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'movinet_a3_k600.py'))
    assert flops.test_clip_shape(cfg) == (120, 256, 256)
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'movinet_t0_k600.py'))
    assert flops.test_clip_shape(cfg) == (25, 160, 160)


@pytest.mark.parametrize('name', ['movinet_a0_k600.py',
                                  'movinet_a0_stream_k600.py',
                                  'movinet_a3_stream_k600.py'])
def test_time_extrapolation_is_exact(get_flops, name):
    # no layer strides in time, so every count is a + b * T
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    model = flops.build_model(cfg)
    shape = (5, 64, 48)
    direct = flops.count_macs(model, shape)
    assert flops.count_macs_extrapolated(model, shape) == direct
    assert direct['linear'] > 0 and direct['conv'] > direct['linear']


def test_counts_grouped_convs(get_flops):
    """Conv MACs = output elements x in_channels / groups x kernel volume."""
    model = torch.nn.Module()
    model.backbone = torch.nn.Conv3d(3, 3, (3, 3, 3), padding=1, groups=3,
                                     bias=False)
    model.cls_head = torch.nn.Identity()
    macs = flops.count_macs(model, (4, 8, 8))
    assert macs['conv'] == (3 * 4 * 8 * 8) * 1 * 27
    assert macs['linear'] == 0


def test_clip_shape_from_a_fixed_resize_and_unknown_lengths(get_flops):
    steps = [dict(type='SampleFrames', clip_len=8, num_clips=1),
             dict(type='Resize', scale=(40, 32), keep_ratio=False)]
    assert flops._clip_shape(steps) == (8, 32, 40)  # T, H, W
    # the demo samples whole videos: no fixed length to count
    demo = osp.join(CONFIG_DIR, 'movinet_a0_stream_synthetic.py')
    with pytest.raises(SystemExit, match='SampleAllFrames.*--shape T H W'):
        get_flops.main([demo])
    assert get_flops.main([demo, '--shape', '16', '40', '40'])['shape'] == \
        (16, 40, 40)


def test_get_flops_missing_config_and_2d_model(tmp_path):
    tool = load_tool('tools/analysis/get_flops.py')
    with pytest.raises(SystemExit, match='no such config file: .*nope.py'):
        tool.main([str(tmp_path / 'nope.py')])
    config = tmp_path / 'tsn.py'
    config.write_text(
        "default_scope = 'mmaction'\n"
        "model = dict(type='Recognizer2D', backbone=dict(type='ResNet', "
        "depth=18, pretrained=None), cls_head=dict(type='TSNHead', "
        "num_classes=5, in_channels=512))\n")
    with pytest.raises(SystemExit, match='Recognizer2D is a 2D recognizer'):
        tool.main([str(config), '--shape', '4', '32', '32'])
    config.write_text('model = dict(\n')
    with pytest.raises(SystemExit, match='cannot read the config'):
        tool.main([str(config)])
