"""Temporal ensembles: logits are the members' mean; each member gets its sampling."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import REPO, backbone_cfg, randomize_
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample
from mmengine.dataset import pseudo_collate
from videos import write_video

KEYS = ('imgs_even', 'imgs_odd')


def member_cfg(num_classes=5, arch='a0'):
    return dict(
        type='MoViNetRecognizer',
        backbone=backbone_cfg(arch, True),
        cls_head=dict(type='MoViNetHead', num_classes=num_classes,
                      in_channels=480, average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               mean=[0., 0., 0.], std=[255., 255., 255.],
                               format_shape='NCTHW'))


def build_ensemble(randomize=True, **kwargs):
    model = MODELS.build(
        dict(type='EnsembleRecognizer', members=[member_cfg(), member_cfg()],
             input_keys=list(KEYS), **kwargs))
    if randomize:
        randomize_(model.members[0], seed=1)
        randomize_(model.members[1], seed=2)
    return model.eval()


def branch(key, offset):
    return dict(
        type='KeyMapper', mapping=None, remapping=dict(imgs=key),
        auto_remap=False,
        transforms=[
            dict(type='SampleAllFrames', frame_interval=2, offset=offset),
            dict(type='DecordDecode'),
            dict(type='Resize', scale=(-1, 32)),
            dict(type='CenterCrop', crop_size=32),
            dict(type='FormatShape', input_format='NCTHW'),
        ])


PIPELINE = [
    dict(type='DecordInit'),
    branch('imgs_even', 0),
    branch('imgs_odd', 1),
    dict(type='PackActionInputs', collect_keys=KEYS),
]


@pytest.fixture(scope='module')
def video_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('ens')
    # frame t is uniformly grey 20 * t: its value names its index
    frames = np.stack([np.full((40, 40, 3), 20 * t, np.uint8)
                       for t in range(9)])
    write_video(str(root / 'v.avi'), frames)
    (root / 'ann.txt').write_text('v.avi 1\n')
    return DATASETS.build(
        dict(type='VideoDataset', ann_file=str(root / 'ann.txt'),
             data_prefix=dict(video=str(root)), pipeline=PIPELINE,
             test_mode=True))


def test_each_member_gets_its_own_sampling(video_dataset):
    inputs = video_dataset[0]['inputs']
    assert set(inputs) == set(KEYS)
    even = inputs['imgs_even'].float().mean(dim=(0, 1, 3, 4))
    odd = inputs['imgs_odd'].float().mean(dim=(0, 1, 3, 4))
    assert torch.allclose(even, 20. * torch.arange(0, 9, 2), atol=4)
    assert torch.allclose(odd, 20. * torch.arange(1, 9, 2), atol=4)


def test_logits_are_the_mean_of_the_members(video_dataset):
    model = build_ensemble()
    data = model.data_preprocessor(pseudo_collate([video_dataset[0]]), False)
    inputs = data['inputs']
    with torch.no_grad():
        mean = model(inputs, mode='tensor')
        separate = [
            m.cls_head(m.backbone(inputs[k].flatten(0, 1)))
            for m, k in zip(model.members, KEYS)
        ]
        torch.testing.assert_close(mean, (separate[0] + separate[1]) / 2)
        samples = model(inputs, data['data_samples'], mode='predict')
        torch.testing.assert_close(samples[0].pred_score,
                                   mean.softmax(-1)[0])
        # streaming: every member carries its own state
        lengths = {k: [inputs[k].shape[-3]] for k in KEYS}
        streamed = model.stream_predict(
            inputs, [ActionDataSample()], lengths, chunk_size=1,
            num_trace_points=2)
    torch.testing.assert_close(streamed[0].pred_score, mean.softmax(-1)[0],
                               atol=1e-5, rtol=0)
    assert streamed[0].stream_scores.shape == (2, 5)


def test_bad_ensembles_name_the_member(tmp_path):
    with pytest.raises(ValueError, match='member 1 .* 7 classes'):
        MODELS.build(dict(type='EnsembleRecognizer',
                          members=[member_cfg(5), member_cfg(7)],
                          input_keys=list(KEYS)))
    model = build_ensemble()
    with pytest.raises(ValueError, match="no input 'imgs_odd' for ensemble "
                       'member 1'):
        model({'imgs_even': torch.rand(1, 1, 3, 2, 32, 32)}, mode='tensor')
    wrong = MODELS.build(dict(member_cfg(), backbone=backbone_cfg('a1', True),
                              cls_head=dict(type='MoViNetHead', num_classes=5,
                                            in_channels=600)))
    path = str(tmp_path / 'a1.pth')
    torch.save({'state_dict': wrong.state_dict()}, path)
    with pytest.raises(ValueError, match='does not match ensemble member 1'):
        build_ensemble(randomize=False, member_checkpoints=[None, path])


def test_merge_tool_round_trips(tmp_path):
    model = build_ensemble()
    paths = []
    for i, member in enumerate(model.members):
        paths.append(str(tmp_path / f'member{i}.pth'))
        torch.save({'state_dict': member.state_dict(), 'meta': {}}, paths[-1])
    out = str(tmp_path / 'merged.pth')
    result = subprocess.run(
        [sys.executable,
         osp.join(REPO, 'tools', 'merge_ensemble_checkpoints.py'), *paths,
         '--out', out], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'sha256' in result.stdout
    merged = torch.load(out, weights_only=True)['state_dict']
    fresh = MODELS.build(dict(type='EnsembleRecognizer',
                              members=[member_cfg(), member_cfg()],
                              input_keys=list(KEYS)))
    fresh.load_state_dict(merged)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)
    # and loading members from their own files gives the same weights
    direct = build_ensemble(randomize=False, member_checkpoints=paths)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(direct.state_dict()[key], value)


@pytest.mark.parametrize('arch', ['a0', 'a2'])
def test_two_half_rate_members_cost_about_one_full_rate_model(arch):
    import importlib.util

    from mmengine.config import Config
    spec = importlib.util.spec_from_file_location(
        'get_flops', osp.join(REPO, 'tools', 'analysis', 'get_flops.py'))
    flops = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(flops)
    ensemble = flops.get_flops(
        Config.fromfile(
            osp.join(REPO, 'configs',
                     f'movinet_{arch}_stream_ensemble_k600.py')),
        extrapolate_time=True)
    single = flops.get_flops(
        Config.fromfile(
            osp.join(REPO, 'configs', f'movinet_{arch}_stream_k600.py')),
        extrapolate_time=True)
    assert [m['shape'][0] for m in ensemble['members']] == [25, 25]
    assert abs(ensemble['macs'] / single['macs'] - 1) < 0.01


def test_a6_ensemble_members_use_their_own_clips():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs',
                                   'movinet_a6_ensemble_k600.py'))
    model = MODELS.build(cfg.model)
    assert [m.backbone.arch.project_channels for m in model.members] == \
        [856, 992]
    branches = [s for s in cfg.test_pipeline if s['type'] == 'KeyMapper']
    clips = [(b['transforms'][0]['clip_len'], b['transforms'][3]['crop_size'])
             for b in branches]
    assert clips == [(80, 290), (120, 320)]


def test_demo_ensemble_feeds_even_and_odd_frames_of_the_demo_grid(tmp_path):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'movinet_a0_stream_synthetic_ensemble.py'))
    # frame t is uniformly grey 10 * t
    frames = np.stack([np.full((64, 64, 3), 10 * t, np.uint8)
                       for t in range(12)])
    write_video(str(tmp_path / 'v.avi'), frames)
    (tmp_path / 'ann.txt').write_text('v.avi 0\n')
    dataset = DATASETS.build(
        dict(type='VideoDataset', ann_file=str(tmp_path / 'ann.txt'),
             data_prefix=dict(video=str(tmp_path)),
             pipeline=cfg.test_pipeline, test_mode=True))
    inputs = dataset[0]['inputs']
    # the full-rate demo model sees video frames 0, 2, 4, ...; the half-rate
    # members split them: 0, 4, 8 and 2, 6, 10
    for key, first in (('imgs_even', 0), ('imgs_odd', 2)):
        assert inputs[key].shape == (1, 3, 3, 40, 40)
        means = inputs[key].float().mean(dim=(0, 1, 3, 4))
        assert torch.allclose(means, 10. * torch.arange(first, 12, 4),
                              atol=4)
    model = MODELS.build(cfg.model)
    assert model.input_keys == ['imgs_even', 'imgs_odd']
    assert cfg.test_cfg.type == 'StreamTestLoop'


def test_ensemble_member_checkpoint_errors_name_the_file(tmp_path):
    empty = tmp_path / 'member.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=f'checkpoint {empty} is empty'):
        build_ensemble(randomize=False, member_checkpoints=[None, str(empty)])
