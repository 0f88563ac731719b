"""The other benchmarks: Kinetics-400 (A0-A5), Kinetics-700, Moments in Time
and Charades (multi-label) configs load, build with their class count, keep
the recipe of their Kinetics-600 counterpart, and have model-zoo entries with
only the published reference numbers."""
import os.path as osp

import pytest
import torch
import yaml
from helpers import REPO

import movinet_mm  # noqa: F401
from movinet_mm.models import ARCH_SPECS

CONFIG_DIR = osp.join(REPO, 'configs')
ARCHS = ('a0', 'a1', 'a2', 'a3', 'a4', 'a5')
# config -> (arch, classes, data folder, train list, val list, train videos,
# val videos)
DATA = {
    **{f'movinet_{a}_k400.py': (
        a, 400, 'data/kinetics400/kinetics400_train_list_videos.txt',
        'data/kinetics400/kinetics400_val_list_videos.txt',
        'data/kinetics400/videos_train', 'data/kinetics400/videos_val')
       for a in ARCHS},
    'movinet_a2_k700.py': (
        'a2', 700, 'data/kinetics700/kinetics700_train_list_videos.txt',
        'data/kinetics700/kinetics700_val_list_videos.txt',
        'data/kinetics700/videos_train', 'data/kinetics700/videos_val'),
    'movinet_a2_mit.py': (
        'a2', 339, 'data/mit/mit_train_list_videos.txt',
        'data/mit/mit_val_list_videos.txt', 'data/mit/videos/training',
        'data/mit/videos/validation'),
    'movinet_a2_charades.py': (
        'a2', 157, 'data/charades/charades_train_list_videos.txt',
        'data/charades/charades_val_list_videos.txt', 'data/charades/videos',
        'data/charades/videos'),
}
CONFIGS = sorted(DATA)
# Published references (/work/shared/reference/movinet.md): K400 top-1 /
# top-5 of the official checkpoints (tensorflow/models README @15762ae),
# Charades mAP of A2 (the paper, Papers-with-Code listing). Kinetics-700
# and Moments in Time: not published.
K400 = {'a0': (69.40, 89.18), 'a1': (74.57, 92.03), 'a2': (75.91, 92.63),
        'a3': (79.34, 94.52), 'a4': (80.64, 94.93), 'a5': (81.39, 95.06)}
CHARADES_A2_MAP = 32.5
# K600 parameters of the official code (tests/configs/test_configs.py)
K600_PARAMS = {'a0': 3_111_799, 'a1': 4_690_296, 'a2': 5_249_562,
               'a3': 7_397_545, 'a4': 11_349_463, 'a5': 18_650_523}


def _load(name):
    from mmengine.config import Config
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def _build(cfg):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    return MODELS.build(cfg.model)


def _params(arch, classes):
    """Trainable parameters: the K600 count with another classifier."""
    hidden = ARCH_SPECS[arch].head_channels
    return K600_PARAMS[arch] + (classes - 600) * (hidden + 1)


def test_all_benchmark_configs_exist():
    for name in CONFIGS:
        assert osp.isfile(osp.join(CONFIG_DIR, name)), name
    # Kinetics-400/700 configs inherit their Kinetics-600 recipe and repoint
    # its loaders; the other data sets have their own data base
    for name in ('mit', 'charades'):
        assert osp.isfile(osp.join(CONFIG_DIR, '_base_', 'datasets',
                                   f'{name}.py'))
    # the official README has no stream Kinetics-400 results or checkpoints
    assert not any(osp.exists(osp.join(CONFIG_DIR, f'movinet_{a}_stream_'
                                       'k400.py')) for a in ARCHS)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_with_its_classes(name):
    arch, classes = DATA[name][:2]
    cfg = _load(name)
    assert 'movinet_mm' in cfg.custom_imports['imports']
    model = _build(cfg)
    assert type(model).__name__ == 'MoViNetRecognizer'
    assert model.backbone.arch == ARCH_SPECS[arch]
    assert model.backbone.causal is False
    head = model.cls_head
    assert head.num_classes == classes
    assert head.fc_cls.out_features == classes
    assert head.in_channels == ARCH_SPECS[arch].project_channels
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == _params(arch, classes)
    multi = name == 'movinet_a2_charades.py'
    assert head.multi_class is multi
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'VideoDataset'
        assert dataset.get('multi_class', False) is multi
        if multi:
            assert dataset.num_classes == classes


@pytest.mark.parametrize('name', CONFIGS)
def test_data_layout(name):
    _, _, train_list, val_list, train_videos, val_videos = DATA[name]
    cfg = _load(name)
    for loader, ann, videos in ((cfg.train_dataloader, train_list,
                                 train_videos),
                                (cfg.val_dataloader, val_list, val_videos),
                                (cfg.test_dataloader, val_list, val_videos)):
        assert loader.dataset.ann_file == ann
        assert loader.dataset.data_prefix == dict(video=videos)
    assert cfg.val_dataloader.dataset.test_mode is True
    assert cfg.test_dataloader.dataset.test_mode is True
    assert cfg.train_dataloader.sampler.shuffle is True
    assert cfg.test_dataloader.batch_size == 1
    assert cfg.val_cfg.type == 'ClipValLoop'
    assert cfg.test_cfg.type == 'ClipTestLoop'


@pytest.mark.parametrize('arch', ARCHS)
def test_k400_keeps_the_k600_recipe(arch):
    """Same clips, frame rate, resolution, schedule and head as K600; only
    the data and the classifier differ."""
    k400, k600 = _load(f'movinet_{arch}_k400.py'), _load(
        f'movinet_{arch}_k600.py')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert k400[loader].dataset.pipeline == k600[loader].dataset.pipeline
        assert k400[loader].batch_size == k600[loader].batch_size
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'auto_scale_lr', 'val_cfg', 'test_cfg', 'val_evaluator'):
        assert k400[key] == k600[key], key
    head400 = dict(k400.model.cls_head, num_classes=600)
    assert head400 == k600.model.cls_head
    assert k400.model.backbone == k600.model.backbone


@pytest.mark.parametrize('name', ['movinet_a2_k700.py', 'movinet_a2_mit.py',
                                  'movinet_a2_charades.py'])
def test_a2_input_size_and_frame_rate(name):
    """The A2 resolution (224, short side 256) and frame rate (stride 5) of
    the official A2 recipe; MiT clips cover its 3-second videos."""
    cfg, k600 = _load(name), _load('movinet_a2_k600.py')
    frames = 15 if name == 'movinet_a2_mit.py' else 50
    train = cfg.train_dataloader.dataset.pipeline
    ref = k600.train_dataloader.dataset.pipeline
    assert [s['type'] for s in train] == [s['type'] for s in ref]
    sample = [s for s in train if s['type'] == 'SampleFrames'][0]
    assert (sample['clip_len'], sample['frame_interval'],
            sample['num_clips']) == (frames, 5, 1)
    assert frames * 5 / 25 == (3.0 if 'mit' in name else 10.0)  # seconds
    resize = [s for s in train if s['type'] == 'Resize'][0]
    assert tuple(resize['scale']) == (224, 224)
    test = cfg.test_dataloader.dataset.pipeline
    sample = [s for s in test if s['type'] == 'SampleFrames'][0]
    assert (sample['clip_len'], sample['frame_interval'],
            sample['num_clips'], sample['test_mode']) == (frames, 5, 1, True)
    assert [s for s in test if s['type'] == 'Resize'][0]['scale'] == (-1,
                                                                      256)
    assert [s for s in test
            if s['type'] == 'CenterCrop'][0]['crop_size'] == 224


def test_charades_is_multi_label(tmp_path):
    cfg = _load('movinet_a2_charades.py')
    head = cfg.model.cls_head
    assert head.multi_class is True
    assert head.loss_cls == dict(type='BCELossWithLogits')
    assert head.label_smooth_eps == 0
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator == dict(type='AccMetric',
                                 metric_list=('mean_average_precision', ))

    # MMAction2's multi-label VideoDataset reads "<path> <l1> <l2> ..."
    from mmaction.registry import DATASETS
    ann = tmp_path / 'charades_val_list_videos.txt'
    ann.write_text('46GZI.mp4 3 92 147\nZZXQF.mp4 0\n')
    dataset_cfg = dict(cfg.test_dataloader.dataset, ann_file=str(ann),
                       data_prefix=dict(video=str(tmp_path)), pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 2
    first = dataset.get_data_info(0)
    assert first['filename'] == str(tmp_path / '46GZI.mp4')
    target = first['label']
    assert target.shape == (157, )
    assert target.nonzero().flatten().tolist() == [3, 92, 147]


def test_charades_model_trains_and_scores_multi_label():
    """BCE loss on multi-hot targets and sigmoid scores, on a tiny clip."""
    from mmaction.structures import ActionDataSample
    model = _build(_load('movinet_a2_charades.py'))
    samples = []
    for labels in ([3, 92], [156]):
        target = torch.zeros(157)
        target[labels] = 1
        samples.append(ActionDataSample().set_gt_label(target))
    inputs = torch.rand(2, 1, 3, 2, 32, 32) * 255
    data = model.data_preprocessor(dict(inputs=list(inputs),
                                        data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    loss = losses['loss_cls']
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(
            dict(inputs=list(inputs), data_samples=samples)), mode='predict')
    scores = out[0].pred_score
    assert scores.shape == (157, )
    assert float(scores.min()) >= 0 and float(scores.max()) <= 1
    # sigmoid scores, not a softmax distribution
    assert abs(float(scores.sum()) - 1) > 1e-3


# ------------------------------------------------------------ model zoo
def _zoo():
    with open(osp.join(CONFIG_DIR, 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    return {m['Name']: m for m in models}


def _metrics(entry):
    return {r['Dataset']: r['Metrics'] for r in entry.get('Results') or []}


def test_model_index_lists_the_metafile():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        assert 'configs/metafile.yml' in yaml.safe_load(f)['Import']


@pytest.mark.parametrize('arch', ARCHS)
def test_k400_zoo_entries(arch):
    entry = _zoo()[f'movinet_{arch}_k400']
    assert entry['Config'] == f'configs/movinet_{arch}_k400.py'
    assert entry['Metadata']['Training Data'] == 'Kinetics-400'
    assert entry['Metadata']['Parameters'] == _params(arch, 400)
    top1, top5 = K400[arch]
    assert _metrics(entry) == {'Kinetics-400': {'Top 1 Accuracy': top1,
                                                'Top 5 Accuracy': top5}}
    assert entry['Converted From']['Weights'].endswith(
        f'/movinet_{arch}_base_k400.tar.gz')
    assert f'configs/movinet_{arch}_k400.py' in entry['Test']
    assert '--cfg-options' not in entry['Test']


@pytest.mark.parametrize('name,dataset', [('movinet_a2_k700', 'Kinetics-700'),
                                          ('movinet_a2_mit', 'Moments in Time'),
                                          ('movinet_a2_charades', 'Charades')])
def test_other_benchmark_zoo_entries(name, dataset):
    entry = _zoo()[name]
    assert entry['Config'] == f'configs/{name}.py'
    assert osp.isfile(osp.join(REPO, entry['Config']))
    assert entry['Metadata']['Training Data'] == dataset
    assert entry['Metadata']['Parameters'] == _params(
        'a2', DATA[f'{name}.py'][1])
    assert 'Converted From' not in entry  # nothing released to convert
    if dataset == 'Charades':
        assert _metrics(entry) == {'Charades': {'mAP': CHARADES_A2_MAP}}
        assert 'paper' in entry['Accuracy Source']
    else:
        assert _metrics(entry) == {}
        assert entry['Accuracy Source'].startswith('not published')
