"""Shipped configs: guarded video reading everywhere, and the search's lr
schedule following ``train_cfg.max_iters``."""
import glob
import math
import os.path as osp

import pytest
from helpers import REPO
from mmengine.config import Config
from videos import moving_square, write_broken_videos, write_video

SEARCH = osp.join(REPO, 'configs', 'search', 'tunas_synthetic.py')
SEARCHED = osp.join(REPO, 'configs', 'search', 'movinet_searched_synthetic.py')
# MMAction2's readers open a video without movinet_mm's checks: decord
# segfaults the DataLoader worker on a truncated file
UNGUARDED = {'DecordInit', 'PyAVInit', 'OpenCVInit', 'DecordDecode',
             'PyAVDecode', 'OpenCVDecode'}


def all_configs():
    paths = glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, REPO) for p in paths)


def steps(node):
    """Every dict with a ``type`` anywhere in a config (pipelines nested in
    datasets, loops, wrappers)."""
    if isinstance(node, dict):
        if 'type' in node:
            yield node
        for value in node.values():
            yield from steps(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from steps(value)


def unguarded(cfg):
    return sorted({s['type'] for s in steps(cfg.to_dict())
                   if s['type'] in UNGUARDED})


@pytest.mark.parametrize('path', all_configs())
def test_no_shipped_config_reads_videos_unguarded(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    assert unguarded(cfg) == [], path


def test_searched_config_reads_videos_guarded():
    """What a search writes as searched_config.py: training skips broken
    videos."""
    from movinet_mm.search.loop import searched_config
    from movinet_mm.search.space import SearchSpace
    from movinet_mm.search.supernet import network_defaults
    space = SearchSpace(**Config.fromfile(SEARCH).search_space)
    arch = space.decode({d.name: 0 for d in space.decisions()})
    result = dict(architecture=arch.to_dict(), num_classes=8,
                  network=network_defaults(causal=True),
                  gmacs=0.01, target_gmacs=0.01)
    cfg = searched_config(SEARCHED, result)
    assert unguarded(cfg) == []
    pipeline = {s['type']: s for s in cfg.train_dataloader.dataset.pipeline}
    assert pipeline['VideoInit']['on_error'] == 'skip'
    assert pipeline['VideoDecode']['on_error'] == 'skip'


@pytest.fixture(scope='module')
def one_truncated(tmp_path_factory):
    """3 good videos and a truncated one (first in the list)."""
    root = str(tmp_path_factory.mktemp('truncated'))
    names = [osp.basename(write_broken_videos(root, 40, 12)['truncated'])]
    for i in range(3):
        names.append(osp.basename(write_video(
            osp.join(root, f'good_{i}.avi'), moving_square(16, 40, seed=i))))
    ann = osp.join(root, 'ann.txt')
    with open(ann, 'w') as f:
        f.writelines(f'{n} {i % 2}\n' for i, n in enumerate(names))
    return root, ann


@pytest.mark.parametrize('config, loader', [
    ('search/tunas_synthetic.py', 'train_dataloader'),
    ('search/tunas_synthetic.py', 'train_cfg.controller_dataloader'),
    ('search/movinet_searched_synthetic.py', 'train_dataloader'),
    ('finetune/synthetic_pretrain_motion.py', 'train_dataloader'),
])
def test_a_truncated_video_is_skipped_by_the_training_pipelines(
        one_truncated, config, loader):
    """One DataLoader worker, as the configs run: a segfault in decoding
    fails the test (``killed by signal``) instead of killing pytest."""
    from mmaction.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader
    root, ann = one_truncated
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    node = cfg
    for key in loader.split('.'):
        node = node[key]
    dataset = DATASETS.build(dict(node.dataset, ann_file=ann,
                                  data_prefix=dict(video=root)))
    batches = list(DataLoader(dataset, batch_size=2, num_workers=1,
                              collate_fn=pseudo_collate))
    # the broken entry was replaced by a good video, not dropped
    assert [len(b['inputs']) for b in batches] == [2, 2]
    for batch in batches:
        assert all(x.shape[-2:] == (40, 40) for x in batch['inputs'])


# ---------------------------------------------------------------- lr
def search_runner(tmp_path, max_iters):
    """The search config's runner with ``--cfg-options
    train_cfg.max_iters=N``, its loop, optimizer and schedulers built as
    ``Runner.train`` builds them (no iteration run)."""
    from mmengine.runner import Runner
    ann = tmp_path / 'ann.txt'
    ann.write_text('a.avi 0\nb.avi 1\n')  # never read: no iteration runs
    cfg = Config.fromfile(SEARCH)
    cfg.merge_from_dict({'train_cfg.max_iters': max_iters})
    for loader in (cfg.train_dataloader, cfg.train_cfg.controller_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.update(ann_file=str(ann),
                              data_prefix=dict(video=str(tmp_path)))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train_loop  # noqa: B018  (built first, as Runner.train does)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.param_schedulers = runner.build_param_scheduler(
        runner.param_schedulers)
    return runner


def lr_curve(runner, iters):
    """The lr of each iteration (ParamSchedulerHook steps the iteration
    schedulers after each)."""
    lrs = []
    for _ in range(iters):
        lrs.append(runner.optim_wrapper.get_lr()['lr'][0])
        for scheduler in runner.param_schedulers:
            scheduler.step()
    return lrs


@pytest.mark.parametrize('max_iters', [500, 20])
def test_search_lr_schedule_follows_max_iters(tmp_path, max_iters):
    runner = search_runner(tmp_path, max_iters)
    base = Config.fromfile(SEARCH).optim_wrapper.optimizer.lr
    lrs = lr_curve(runner, max_iters)
    warm = round(0.1 * max_iters)  # warm-up: 10% of the iterations
    # MMEngine's LinearLR reaches the base lr on its last iteration
    expected = [base * (0.02 + 0.98 * i / (warm - 1)) for i in range(warm)]
    expected += [base * (1 + math.cos(math.pi * (i - warm) /
                                      (max_iters - warm))) / 2
                 for i in range(warm, max_iters)]
    assert lrs == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert lrs[0] == pytest.approx(0.02 * base)
    assert lrs[warm - 1] == lrs[warm] == pytest.approx(base)
    # cosine: half the lr half-way through the decay, ~0 only at the end
    assert lrs[(warm + max_iters) // 2] == pytest.approx(base / 2, rel=0.1)
    assert lrs[int(0.9 * max_iters)] > 0.02 * base
    assert lrs[-1] < 0.01 * base


def test_the_gpu_search_config_reaches_its_target():
    """tools/search/gpu_search.py's target (half of A0-Stream at 8x172x172)
    lies inside the space of configs/search/tunas_synthetic_gpu.py."""
    from movinet_mm.analysis.search_demo import a0_macs
    from movinet_mm.search.cost import cost_range
    from movinet_mm.search.space import SearchSpace
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'search',
                                   'tunas_synthetic_gpu.py'))
    space = SearchSpace.from_dict(cfg.model.space)
    assert space.depths == tuple(range(1, 11))
    assert space.resolutions == (172, )
    low, high = cost_range(space, causal=True, conv_type='3d_2plus1d',
                           se_type='2plus3d', num_classes=cfg.num_classes)
    assert low < 0.5 * a0_macs(cfg) < high
