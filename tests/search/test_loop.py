"""The TuNAS search through `python -m mim train`, scaled down: end to end,
killed and resumed, and its bad inputs.

A tiny space (depths 1-2, narrow widths, 32 px) on 8 generated clips of 16
frames; 6 search iterations with checkpoints every 2.
"""
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from runs import REPO, free_port, make_data, run

SEARCH_CONFIG = osp.join(REPO, 'configs', 'search', 'tunas_synthetic.py')
MAX_ITERS = 6
TIMEOUT = 300


def write_config(tmp_path, data, target_gmacs=None, depths=(1, 2),
                 max_iters=MAX_ITERS):
    """A tiny search config inheriting configs/search/tunas_synthetic.py."""
    target = 'None' if target_gmacs is None else repr(target_gmacs)
    text = f'''
    _base_ = {SEARCH_CONFIG!r}
    data = {data!r}
    search_space = dict(stem_base=8, block_bases=(8, 16, 16, 16, 24),
                        project_base=32, head_channels=64, depths={depths!r},
                        frames=(4, ), frame_strides=(1, 2),
                        resolutions=(32, ))
    model = dict(space=search_space, dropout_ratio=0.0)
    pipeline = [
        dict(type='DecordInit', io_backend='disk'),
        dict(type='SampleFrames', clip_len=7, frame_interval=1,
             num_clips=1),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs')
    ]
    loader = dict(num_workers=0, persistent_workers=False)
    train_dataloader = dict(
        batch_size=4, **loader,
        dataset=dict(ann_file=data + '/train_list_videos.txt',
                     data_prefix=dict(video=data + '/videos'),
                     pipeline=pipeline))
    train_cfg = dict(
        max_iters={max_iters}, target_gmacs=TARGET, warmup_ratio=0.34,
        controller_lr=0.1,
        controller_dataloader=dict(
            batch_size=8, **loader,
            dataset=dict(ann_file=data + '/val_list_videos.txt',
                         data_prefix=dict(video=data + '/videos'),
                         pipeline=pipeline)))
    param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    default_hooks = dict(logger=dict(interval=1),
                         checkpoint=dict(interval=2, max_keep_ckpts=-1))
    '''
    text = textwrap.dedent(text).replace('TARGET', target)
    path = tmp_path / f'search_tiny_{len(list(tmp_path.iterdir()))}.py'
    path.write_text(text)
    return str(path)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_data(str(tmp_path_factory.mktemp('search') / 'data'))


@pytest.fixture(scope='module')
def tiny_target():
    """Half-way between the tiny space's cheapest and dearest network."""
    from mmengine.config import Config

    from movinet_mm.search.cost import cost_range
    from movinet_mm.search.space import SearchSpace
    kernels = Config.fromfile(SEARCH_CONFIG).search_space.kernels  # inherited
    space = SearchSpace(stem_base=8, block_bases=(8, 16, 16, 16, 24),
                        project_base=32, head_channels=64, depths=(1, 2),
                        kernels=kernels, frames=(4, ), frame_strides=(1, 2),
                        resolutions=(32, ))
    low, high = cost_range(space, causal=True, conv_type='3d_2plus1d',
                           se_type='2plus3d', num_classes=8)
    return dict(low=low, high=high, gmacs=round((low + high) / 2e9, 6))


def mim_search(config, work_dir, *extra, check=True):
    cmd = [sys.executable, '-m', 'mim', 'train', 'movinet_mm', config,
           '--work-dir', work_dir, *extra]
    if check:
        return run(cmd, timeout=TIMEOUT)
    return subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          timeout=TIMEOUT,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))


def read_log(work_dir, event=None):
    """The per-iteration records (``event``: the records of that event,
    e.g. 'supernet_top1')."""
    with open(osp.join(work_dir, 'search_log.jsonl')) as f:
        records = [json.loads(line) for line in f]
    return [r for r in records if r.get('event') == event]


@pytest.fixture(scope='module')
def searched(data, tiny_target, tmp_path_factory):
    """One tiny search through `mim train`, to the end."""
    tmp = tmp_path_factory.mktemp('searched')
    config = write_config(tmp, data, tiny_target['gmacs'])
    work = str(tmp / 'work')
    out = mim_search(config, work)
    return dict(config=config, work=work, out=out, tmp=tmp)


def test_search_end_to_end_and_the_searched_config(searched, data,
                                                   tmp_path):
    from movinet_mm.search.cost import total_macs
    from movinet_mm.search.space import Architecture
    work = searched['work']
    assert 'search done: most likely architecture' in searched['out']
    records = read_log(work)
    assert [r['iter'] for r in records] == list(range(1, MAX_ITERS + 1))
    for r in records:
        for key in ('sampled_gmacs', 'reward', 'entropy', 'most_likely',
                    'most_likely_gmacs', 'quality', 'baseline'):
            assert key in r
        assert r['cost_only'] is False
    # controller lr is 0 during the warm-up (2 of 6 iterations): the most
    # likely architecture cannot move before it ends
    assert records[0]['most_likely'] == records[1]['most_likely']
    assert records[0]['entropy'] == records[1]['entropy']
    assert records[-1]['entropy'] < records[1]['entropy']
    # score_during_warmup=False (the config's): no held-out scoring while
    # the controller's lr is 0 (iterations 1-3 of 6: 0.34 x 6 -> 3)
    assert [r['quality'] is None for r in records] == [True] * 3 + [False] * 3
    # the cost, reward and entropy are in the runner's scalar log too
    scalars = [p for p in os.listdir(work) if p.startswith('2')]
    with open(osp.join(work, scalars[0], 'vis_data', 'scalars.json')) as f:
        logged = [json.loads(line) for line in f]
    assert {'sampled_gmacs', 'reward', 'entropy', 'best_gmacs'} <= \
        set(logged[-1])

    with open(osp.join(work, 'searched_arch.json')) as f:
        result = json.load(f)
    arch = Architecture.from_dict(result['architecture'])
    assert result['macs'] == total_macs(arch.arch, arch.frames,
                                        arch.resolution, causal=True,
                                        conv_type='3d_2plus1d',
                                        se_type='2plus3d', num_classes=8)
    assert result['iterations'] == MAX_ITERS
    assert result['cost_only'] is False
    # the supernet's top-1 on fixed architectures, every 10% of the
    # iterations (here every one) and at the end, in the result and the log
    monitored = result['supernet_top1']
    assert [m['iter'] for m in monitored] == list(range(1, MAX_ITERS + 1))
    assert monitored[-1]['fraction'] == 1.0
    assert monitored[0]['controller_lr'] == 0.0  # in the warm-up
    assert monitored[-1]['controller_lr'] == 0.1
    events = read_log(work, 'supernet_top1')
    assert [{k: e[k] for k in monitored[0]} for e in events] == monitored
    for e in events:
        assert len(e['per_architecture']) == 4  # monitor_archs default
        assert e['top1'] == pytest.approx(sum(e['per_architecture']) / 4)
        assert all(0 <= t <= 1 for t in e['per_architecture'])
    assert 'supernet top-1' in searched['out']

    ckpt = torch.load(osp.join(work, f'iter_{MAX_ITERS}.pth'),
                      map_location='cpu', weights_only=False)
    search = ckpt['search']
    assert search['iter'] == MAX_ITERS
    assert {'controller', 'controller_optimizer', 'space',
            'target_macs'} <= set(search)
    assert 'baseline' in str(search['controller'].keys())

    # the ready config: MoViNet(arch=dict(...)) and the found input; it
    # trains from scratch
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(work, 'searched_config.py'))
    assert cfg.model.type == 'MoViNetRecognizer'
    assert cfg.searched_architecture.cost_only is False
    assert cfg.model.backbone.arch['stem_channels'] == \
        arch.arch.stem_channels
    sample = [s for s in cfg.train_dataloader.dataset.pipeline
              if s['type'] == 'SampleFrames'][0]
    assert sample['clip_len'] == arch.frames
    loader = cfg.train_dataloader
    loader.dataset.ann_file = f'{data}/train_list_videos.txt'
    loader.dataset.data_prefix = dict(video=f'{data}/videos')
    loader.batch_size, loader.num_workers = 4, 0
    loader.persistent_workers = False
    cfg.train_cfg.max_epochs = 1
    for name in ('test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[name] = None
    cfg.work_dir = str(tmp_path / 'train_found')
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert all(torch.isfinite(torch.tensor(losses)))


def test_cost_only_search_end_to_end(data, tiny_target, tmp_path):
    """train_cfg.cost_only=True: reward without the quality term, no
    shared-weight steps, every output marked."""
    from mmengine.config import Config

    from movinet_mm.search.loop import load_result
    config = write_config(tmp_path, data, tiny_target['gmacs'])
    work = str(tmp_path / 'work')
    out = mim_search(config, work, '--cfg-options', 'train_cfg.cost_only=True')
    assert 'cost-only search done (no quality term in the reward)' in out
    records = read_log(work)
    assert [r['iter'] for r in records] == list(range(1, MAX_ITERS + 1))
    for r in records:
        assert r['cost_only'] is True and r['quality'] is None
        # the reward is the cost term alone (beta = -0.5 in the config)
        assert r['reward'] <= 0
    assert read_log(work, 'supernet_top1') == []
    result = load_result(osp.join(work, 'searched_arch.json'))
    assert result['cost_only'] is True and result['supernet_top1'] == []
    with open(osp.join(work, 'searched_config.py')) as f:
        assert f.readline().startswith('# cost-only search')
    cfg = Config.fromfile(osp.join(work, 'searched_config.py'))
    assert cfg.searched_architecture.cost_only is True
    ckpt = torch.load(osp.join(work, f'iter_{MAX_ITERS}.pth'),
                      map_location='cpu', weights_only=False)
    assert ckpt['search']['cost_only'] is True


def test_result_files_before_the_cost_only_field(tmp_path):
    from movinet_mm.search.loop import load_result
    path = tmp_path / 'searched_arch.json'
    path.write_text(json.dumps(dict(gmacs=0.01)))
    assert load_result(path)['cost_only'] is False


def test_killed_search_resumes(data, tiny_target, tmp_path):
    config = write_config(tmp_path, data, tiny_target['gmacs'])
    work = str(tmp_path / 'work')
    cmd = [sys.executable, '-m', 'mim', 'train', 'movinet_mm', config,
           '--work-dir', work]
    log = open(str(tmp_path / 'killed.log'), 'w')
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT,
                            env=dict(os.environ, OMP_NUM_THREADS='1'),
                            start_new_session=True)
    try:
        deadline = time.time() + TIMEOUT
        while not osp.exists(osp.join(work, 'last_checkpoint')):
            assert proc.poll() is None, open(log.name).read()[-4000:]
            assert time.time() < deadline, 'no checkpoint in time'
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    with open(osp.join(work, 'last_checkpoint')) as f:
        ckpt_path = f.read().strip()
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    killed_at = ckpt['meta']['iter']
    assert killed_at < MAX_ITERS and killed_at == ckpt['search']['iter']
    baseline = float(ckpt['search']['controller']['baseline'])
    logged_before = len(read_log(work))

    out = mim_search(config, work, '--resume')
    assert f'resumed epoch: 0, iter: {killed_at}' in out
    records = read_log(work)
    record = records[logged_before]  # the resumed run's first iteration
    assert record['iter'] == killed_at + 1
    # the baseline continued from the checkpoint's (momentum 0.95)
    assert record['baseline'] == pytest.approx(
        0.95 * baseline + 0.05 * record['reward'], rel=1e-5, abs=1e-7)
    assert records[-1]['iter'] == MAX_ITERS
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip().endswith(f'iter_{MAX_ITERS}.pth')


@pytest.mark.parametrize('change, message', [
    ('target', 'cannot resume: the checkpoint searched for a cost target'),
    ('space', 'cannot resume: the checkpoint was searched in another space '
     "(fields ['depths'] differ)"),
])
def test_resuming_with_another_target_or_space(searched, data, tiny_target,
                                               tmp_path, change, message):
    from mmengine.config import Config
    from mmengine.runner import Runner
    if change == 'target':
        config = write_config(tmp_path, data, tiny_target['gmacs'] * 1.1)
    else:
        config = write_config(tmp_path, data, tiny_target['gmacs'],
                              depths=(1, 3))
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'w')
    cfg.log_level = 'WARNING'
    cfg.resume = True
    cfg.load_from = osp.join(searched['work'], 'iter_2.pth')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=re.escape(message)):
        runner.train()


def test_cost_target_outside_the_space_is_a_clear_error(data, tiny_target,
                                                        tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner
    config = write_config(tmp_path, data, tiny_target['low'] / 2e9)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'w')
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='outside what the search space '
                       'reaches') as info:
        runner.train()
    message = str(info.value)
    assert f"{tiny_target['low'] / 1e9:.4g}" in message
    assert f"{tiny_target['high'] / 1e9:.4g}" in message


def test_searched_config_with_a_missing_architecture_file(tmp_path):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    import movinet_mm.search  # noqa: F401
    init_default_scope('mmaction')
    missing = str(tmp_path / 'nowhere' / 'searched_arch.json')
    with pytest.raises(FileNotFoundError, match='run the search') as info:
        MODELS.build(dict(type='SearchedMoViNetRecognizer',
                          arch_file=missing))
    assert missing in str(info.value) and '\n' not in str(info.value)


@pytest.mark.slow
def test_two_process_search(data, tiny_target, tmp_path):
    """`--launcher pytorch -G 2` on CPU (gloo): both ranks draw the same
    architectures and make the same controller update."""
    config = write_config(tmp_path, data, tiny_target['gmacs'], max_iters=4)
    work = str(tmp_path / 'work')
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()))
    proc = subprocess.run(
        [sys.executable, '-m', 'mim', 'train', 'movinet_mm', config,
         '--work-dir', work, '--launcher', 'pytorch', '-G', '2'], cwd=REPO,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=2 * TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert osp.isfile(osp.join(work, 'searched_arch.json'))
    assert len(read_log(work)) == 4


# ------------------------------------------------- train_config resolution
def _runner(config, work_dir, **train_cfg):
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.train_cfg.update(train_cfg)
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    return Runner.from_cfg(cfg)


def test_search_outside_the_repository_root_writes_its_config(
        data, tiny_target, tmp_path, monkeypatch):
    """The shipped train_config (a repository-relative path) is found
    through the installed package's configs from another directory."""
    config = write_config(tmp_path, data, tiny_target['gmacs'], max_iters=1)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    runner = _runner(config, tmp_path / 'work')
    runner.train()
    assert osp.isfile(tmp_path / 'work' / 'searched_config.py')
    shipped = osp.join(REPO, 'configs', 'search',
                       'movinet_searched_synthetic.py')
    assert osp.isabs(runner.train_loop.train_config)
    assert osp.samefile(runner.train_loop.train_config, shipped)


def test_train_config_relative_to_the_search_config(data, tiny_target,
                                                    tmp_path, monkeypatch):
    config = write_config(tmp_path, data, tiny_target['gmacs'])
    shipped = osp.join(REPO, 'configs', 'search',
                       'movinet_searched_synthetic.py')
    (tmp_path / 'my_train.py').write_text(f'_base_ = {shipped!r}\n')
    monkeypatch.chdir(tmp_path / os.pardir)
    runner = _runner(config, tmp_path / 'work', train_config='my_train.py')
    assert runner.train_loop.train_config == str(tmp_path / 'my_train.py')


def test_missing_train_config_fails_before_the_search(data, tiny_target,
                                                      tmp_path):
    config = write_config(tmp_path, data, tiny_target['gmacs'])
    runner = _runner(config, tmp_path / 'work',
                     train_config='configs/search/no_such_config.py')
    with pytest.raises(FileNotFoundError,
                       match='train_config configs/search/no_such_config.py '
                       'not found') as info:
        runner.train()
    assert '\n' not in str(info.value)
    assert not osp.exists(tmp_path / 'work' / 'search_log.jsonl')


def test_cached_held_out_batches_cycle_in_their_first_order():
    from movinet_mm.search.loop import CachedBatches
    batches = CachedBatches([{'b': 0}, {'b': 1}, {'b': 2}])
    assert [next(batches)['b'] for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    with pytest.raises(ValueError, match='no batches'):
        next(CachedBatches([]))


def test_largest_warmup_takes_the_largest_kernel_only_when_nested():
    from types import SimpleNamespace

    from movinet_mm.search.loop import TuNASSearchLoop
    from movinet_mm.search.space import SearchSpace
    space = SearchSpace(kernels=((3, 3, 3), (5, 3, 3), (1, 3, 3)),
                        depths=(1, 2))
    start = space.extreme_indices(largest=False)
    for sharing in ('nested', 'separate'):
        loop = SimpleNamespace(space=space,
                               supernet=SimpleNamespace(kernel_sharing=sharing))
        widest = TuNASSearchLoop._widest(loop, start, deepest=True)
        arch = space.decode(widest)
        assert arch == space.decode(TuNASSearchLoop._widest(loop, widest,
                                                            deepest=True))
        for d in space.decisions():
            if d.name.endswith('_kernel'):
                # by volume: 5x3x3 although it is not the last option
                want = 1 if sharing == 'nested' else start[d.name]
                assert widest[d.name] == want, (sharing, d.name)
            elif d.name.endswith(('_width', '_expansion', '_depth')):
                assert widest[d.name] == len(d.options) - 1, d.name
        # without deepest the kernels and depths are left as they were
        narrow = TuNASSearchLoop._widest(loop, start)
        assert all(narrow[d.name] == start[d.name] for d in space.decisions()
                   if d.name.endswith(('_kernel', '_depth')))
