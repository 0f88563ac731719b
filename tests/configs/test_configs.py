"""Every config in configs/ loads, builds, and follows the official recipe.

The expected values are the official ones (tensorflow/models
official/projects/movinet: README, configs/yaml/movinet_*_k600_8x8.yaml and
parameter counts of the official code with a 600-class head).
"""
import glob
import os.path as osp
import re

import pytest
import torch
from helpers import REPO

import movinet_mm  # noqa: F401
from movinet_mm.models import ARCH_SPECS

CONFIG_DIR = osp.join(REPO, 'configs')
ALL_CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
NAME = re.compile(r'^movinet_(a[0-5]|t0)(_stream)?_k600\.py$')
# the single-model Kinetics-600 recipes
CONFIGS = [p for p in ALL_CONFIGS if NAME.match(osp.basename(p))]

# Trainable parameters with 600 classes: (base, stream).
PARAMS = {
    'a0': (3_111_799, 3_748_031),
    'a1': (4_690_296, 6_447_352),
    'a2': (5_249_562, 7_326_962),
    'a3': (7_397_545, 10_986_618),
    'a4': (11_349_463, 18_136_182),
    'a5': (18_650_523, 31_495_934),
    't0': (1_727_414, 2_368_958),
}
# train frames, temporal stride, resolution, min_image_size (test short
# side), eval frames
RECIPE = {
    'a0': (50, 5, 172, 192, 50),
    'a1': (50, 5, 172, 192, 50),
    'a2': (50, 5, 224, 256, 50),
    'a3': (64, 2, 256, 288, 120),
    'a4': (32, 3, 290, 320, 80),
    'a5': (32, 2, 320, 368, 120),
    't0': (25, 10, 160, 176, 25),
}
# classifier dropout: (base, stream)
DROPOUT = {
    'a0': (0.2, 0.2),
    'a1': (0.5, 0.2),
    'a2': (0.5, 0.5),
    'a3': (0.5, 0.5),
    'a4': (0.5, 0.5),
    'a5': (0.5, 0.5),
    't0': (0.2, 0.2),
}


def _parse(path):
    match = NAME.match(osp.basename(path))
    assert match, f'unexpected config name {osp.basename(path)}'
    return match.group(1), match.group(2) is not None


def _load(path):
    from mmengine.config import Config
    return Config.fromfile(path)


def _step(pipeline, type_name):
    steps = [s for s in pipeline if s['type'] == type_name]
    assert len(steps) == 1, f'{type_name} in {pipeline}'
    return steps[0]


def test_all_configs_are_present():
    names = {osp.basename(p) for p in CONFIGS}
    for arch in ('a0', 'a1', 'a2', 'a3', 'a4', 'a5'):
        assert f'movinet_{arch}_k600.py' in names
        assert f'movinet_{arch}_stream_k600.py' in names
    assert 'movinet_t0_k600.py' in names


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=osp.basename)
def test_every_config_builds(path):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = _load(path)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize('path', sorted(
    glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)),
    ids=lambda p: osp.relpath(p, CONFIG_DIR))
def test_configs_are_self_contained(path):
    # no `mmaction::` bases: they need pkg_resources and metafile lookups
    with open(path) as f:
        text = f.read()
    assert 'mmaction::' not in text
    assert '::' not in ''.join(re.findall(r'^_base_\s*=.*', text, re.M))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_the_official_model(path):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    arch, stream = _parse(path)
    cfg = _load(path)
    assert cfg.default_scope == 'mmaction'
    assert 'movinet_mm' in cfg.custom_imports['imports']
    assert cfg.custom_imports['allow_failed_imports'] is False
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)

    assert type(model).__name__ == 'MoViNetRecognizer'
    backbone, head = model.backbone, model.cls_head
    assert backbone.arch == ARCH_SPECS[arch]
    assert backbone.causal is stream
    assert backbone.conv_type == ('3d_2plus1d' if stream else '3d')
    assert backbone.se_type == ('2plus3d' if stream else '3d')
    assert backbone.use_positional_encoding is (stream and arch in ('a3', 'a4',
                                                                    'a5'))
    bb_cfg = cfg.model.backbone
    assert bb_cfg.activation == ('hard_swish' if stream else 'swish')
    assert bb_cfg.gating_activation == ('hard_sigmoid'
                                        if stream else 'sigmoid')
    assert bb_cfg.drop_path_rate == 0.2
    assert bb_cfg.norm_cfg == dict(type='BN3d', eps=1e-3, momentum=0.01)

    spec = ARCH_SPECS[arch]
    assert head.num_classes == 600
    assert head.in_channels == spec.project_channels
    assert head.hidden_channels == spec.head_channels
    assert head.fc_hidden.out_features == spec.head_channels
    dropout = DROPOUT[arch][stream]
    assert cfg.model.cls_head.dropout_ratio == dropout
    assert head.dropout is not None and head.dropout.p == dropout
    assert head.label_smooth_eps == 0.1
    assert head.average_clips == 'prob'

    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == PARAMS[arch][stream]

    # RGB in [0, 1]: no mean subtraction, divide by 255
    pre = model.data_preprocessor
    assert torch.equal(pre.mean.flatten(), torch.zeros(3))
    assert torch.equal(pre.std.flatten(), torch.full((3, ), 255.))
    assert pre.format_shape == 'NCTHW'


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_pipelines_follow_the_recipe(path):
    arch, _ = _parse(path)
    frames, stride, res, min_side, eval_frames = RECIPE[arch]
    cfg = _load(path)

    train = cfg.train_dataloader.dataset.pipeline
    assert [s['type'] for s in train] == [
        'VideoInit', 'SampleFrames', 'VideoDecode', 'RandomResizedCrop',
        'Resize', 'Flip', 'FormatShape', 'PackActionInputs'
    ]
    sample = _step(train, 'SampleFrames')
    assert (sample['clip_len'], sample['frame_interval'],
            sample['num_clips']) == (frames, stride, 1)
    assert not sample.get('test_mode', False)
    crop = _step(train, 'RandomResizedCrop')
    assert tuple(crop['area_range']) == (0.08, 1.0)
    assert tuple(crop['aspect_ratio_range']) == (0.5, 2.0)
    resize = _step(train, 'Resize')
    assert tuple(resize['scale']) == (res, res)
    assert resize['keep_ratio'] is False
    assert _step(train, 'Flip')['flip_ratio'] == 0.5
    assert _step(train, 'FormatShape')['input_format'] == 'NCTHW'

    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        pipeline = loader.dataset.pipeline
        assert loader.dataset.test_mode is True
        assert [s['type'] for s in pipeline] == [
            'VideoInit', 'SampleFrames', 'VideoDecode', 'Resize',
            'CenterCrop', 'FormatShape', 'PackActionInputs'
        ]
        sample = _step(pipeline, 'SampleFrames')
        # one clip of the eval frames: the official single-view protocol
        assert (sample['clip_len'], sample['frame_interval'],
                sample['num_clips']) == (eval_frames, stride, 1)
        assert sample['test_mode'] is True
        assert tuple(_step(pipeline, 'Resize')['scale']) == (-1, min_side)
        assert _step(pipeline, 'CenterCrop')['crop_size'] == res
    assert cfg.test_dataloader.batch_size == 1


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_data_layout_and_loops(path):
    cfg = _load(path)
    for loader, split in ((cfg.train_dataloader, 'train'),
                          (cfg.val_dataloader, 'val'),
                          (cfg.test_dataloader, 'val')):
        dataset = loader.dataset
        assert dataset.type == 'VideoDataset'
        assert dataset.ann_file == (
            f'data/kinetics600/kinetics600_{split}_list_videos.txt')
        assert dataset.data_prefix == dict(
            video=f'data/kinetics600/videos_{split}')
    assert cfg.train_dataloader.sampler.shuffle is True
    assert cfg.val_evaluator.type == 'AccMetric'
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.val_cfg.type == 'ClipValLoop'
    assert cfg.test_cfg.type == 'ClipTestLoop'
    assert cfg.visualizer.type == 'ActionVisualizer'
    assert cfg.load_from is None and cfg.resume is False


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_official_schedule(path):
    cfg = _load(path)
    optimizer = cfg.optim_wrapper.optimizer
    # Keras RMSprop (eps inside the sqrt) and Keras per-variable clipnorm
    assert optimizer.type == 'TFRMSprop'
    assert cfg.optim_wrapper.type == 'PerVariableClipOptimWrapper'
    assert optimizer.lr == 1.8
    assert (optimizer.rho, optimizer.momentum, optimizer.eps) == (0.9, 0.9,
                                                                  1.0)
    # TF: l2_weight_decay 3e-5 -> keras l2(3e-5 / 2) -> gradient 3e-5 * w
    assert optimizer.weight_decay == 3e-5
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=1.0, norm_type=2)
    assert cfg.auto_scale_lr.base_batch_size == 1024
    # 85,785 steps x 1024 / 366,016 videos = 240 epochs; warmup 2,145 = 6
    assert cfg.train_cfg.max_epochs == 240
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR'
    assert (warmup.begin, warmup.end) == (0, 6)
    assert cosine.type == 'CosineAnnealingLR'
    assert (cosine.begin, cosine.end, cosine.T_max) == (6, 240, 234)
    assert cosine.eta_min == 0
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.sync_bn == 'torch'


@pytest.mark.parametrize('name', ['movinet_a0_k600.py',
                                  'movinet_a3_stream_k600.py'])
def test_weight_decay_groups(name):
    """L2 on conv and linear weights only, as TF's kernel regularizers."""
    from mmaction.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    cfg = _load(osp.join(CONFIG_DIR, name))
    init_default_scope('mmaction')
    model = MODELS.build(cfg.model)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {}
    for group in optim_wrapper.optimizer.param_groups:
        for param in group['params']:
            decay[id(param)] = group['weight_decay']
    seen_pos_enc = False
    for name_, param in model.named_parameters():
        module_name, _, leaf = name_.rpartition('.')
        module = model.get_submodule(module_name)
        if isinstance(module, (torch.nn.Conv3d, torch.nn.Conv2d,
                               torch.nn.Linear)) and leaf == 'weight':
            assert decay[id(param)] == 3e-5, name_
        else:
            assert decay[id(param)] == 0, name_
        seen_pos_enc |= 'pos_encoding' in name_
    assert seen_pos_enc == ('stream' in name)
