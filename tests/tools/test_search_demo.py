"""tools/search/search_demo.py without its trainings: arguments, the random
baseline draw, the reuse check and the recipe its configs set."""
import importlib.util
import json
import os.path as osp

import pytest
from mmengine.config import Config
from runs import REPO

from movinet_mm.analysis import search_demo as lib

# the command line; the demo's steps come from the package
spec = importlib.util.spec_from_file_location(
    'search_demo', osp.join(REPO, 'tools', 'search', 'search_demo.py'))
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)


@pytest.fixture(scope='module')
def search_cfg():
    return Config.fromfile(osp.join(REPO, lib.SEARCH_CONFIG))


@pytest.mark.parametrize('argv, message', [
    (['--num-random', '0'], '--num-random'),
    (['--jobs', '0'], '--jobs'),
    (['--target-fraction', '0'], '--target-fraction'),
])
def test_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        demo.parse_args(argv)
    assert message in capsys.readouterr().err


def test_random_architectures_are_within_ten_percent(search_cfg):
    from movinet_mm.search.cost import total_macs
    target = 0.5 * lib.a0_macs(search_cfg)
    picked, draws = lib.random_architectures(search_cfg, target, 3, seed=0)
    again, _ = lib.random_architectures(search_cfg, target, 3, seed=0)
    assert len(picked) == 3 and draws >= 3
    assert [a.describe() for a, _ in picked] == \
        [a.describe() for a, _ in again]  # deterministic by seed
    for arch, cost in picked:
        assert abs(cost / target - 1) <= 0.1
        assert cost == total_macs(arch.arch, arch.frames, arch.resolution,
                                  causal=True, conv_type='3d_2plus1d',
                                  se_type='2plus3d',
                                  num_classes=search_cfg.num_classes)


def test_reused_search_for_another_target_is_an_error(tmp_path):
    work = tmp_path / 'search'
    work.mkdir()
    (work / 'searched_arch.json').write_text(json.dumps(
        dict(target_gmacs=0.0189)))
    args = demo.parse_args(['--reuse-search'])
    with pytest.raises(SystemExit, match='searched for 0.0189 GMACs'):
        lib.search(None, args, str(work), 0.0094)


def test_user_data_options_override_the_demo_defaults():
    gen_spec = importlib.util.spec_from_file_location(
        'generate_synthetic',
        osp.join(REPO, 'tools', 'data', 'generate_synthetic.py'))
    gen = importlib.util.module_from_spec(gen_spec)
    gen_spec.loader.exec_module(gen)
    cmd = demo.generate_cmd(demo.parse_args(
        ['--data', 'x', '--data-options', '--noise', '30']))
    assert cmd[1] == 'tools/data/generate_synthetic.py'
    args = gen.parse_args(cmd[2:])
    assert args.out == 'x' and args.train_per_class == 100
    assert args.noise == 30 and args.object_scale == [0.15, 0.22]


def test_search_and_training_see_the_same_input(search_cfg):
    """8 frames every 4th frame in the search, the trainings and the test
    (the whole 32-frame video), no crop anywhere."""
    train_cfg = Config.fromfile(osp.join(REPO, lib.TRAIN_CONFIG))

    def step(pipeline, name):
        found = [s for s in pipeline if s['type'] == name]
        return found[0] if found else None

    for pipeline in (search_cfg.pipeline, search_cfg.held_out_pipeline,
                     train_cfg.train_dataloader.dataset.pipeline):
        sample = step(pipeline, 'SampleFrames')
        assert (sample['clip_len'], sample['frame_interval']) == (8, 4)
        assert step(pipeline, 'RandomResizedCrop') is None
    test = train_cfg.test_dataloader.dataset.pipeline
    assert step(test, 'SampleAllFrames')['frame_interval'] == 4
    assert step(test, 'Resize')['scale'] == (40, 40)


# ------------------------------------------- seeds, ranking and the report
def test_defaults_and_the_new_options():
    args = demo.parse_args([])
    assert args.seeds == [0] and args.num_random == 5
    assert args.bn_recalibration_batches == 4
    args = demo.parse_args(['--seeds', '3', '--bn-recalibration-batches',
                            '0', '--num-random', '2'])
    assert args.seeds == [3] and args.bn_recalibration_batches == 0


@pytest.mark.parametrize('argv, message', [
    (['--num-random', '1'], 'Kendall tau'),
    (['--seeds', '1', '1'], 'twice'),
    (['--bn-recalibration-batches', '-1'], '--bn-recalibration-batches'),
])
def test_bad_new_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        demo.parse_args(argv)
    assert message in capsys.readouterr().err


def test_reused_search_of_the_other_kind_is_an_error(tmp_path):
    work = tmp_path / 'search_cost_only'
    work.mkdir()
    (work / 'searched_arch.json').write_text(json.dumps(
        dict(target_gmacs=0.0189, cost_only=False)))
    args = demo.parse_args(['--reuse-search'])
    with pytest.raises(SystemExit, match='is a normal search, not the '
                       'cost-only one'):
        lib.search(None, args, str(work), 0.0189, cost_only=True)
    (work / 'searched_arch.json').write_text(json.dumps(
        dict(target_gmacs=0.0189, cost_only=True, gmacs=0.019)))
    result = lib.search(None, args, str(work), 0.0189, cost_only=True)
    assert result['cost_only'] and result['search_seconds'] is None


def fake_outcome(tmp_path, seeds=(0, 1)):
    """The report of 1 searched + 3 random networks, trained with two
    seeds, without running anything."""
    result = dict(architecture=dict(name='found'), gmacs=0.019,
                  search_seconds=12.0, cost_only=False,
                  supernet_top1=[dict(iter=5, fraction=0.5, top1=0.25,
                                      controller_lr=0.0),
                                 dict(iter=10, fraction=1.0, top1=0.5,
                                      controller_lr=0.2)])
    cost_result = dict(architecture=dict(name='cost'), gmacs=0.0188,
                       search_seconds=3.0, cost_only=True)
    randoms = [(dict(name=f'r{k}'), 0.018 + k * 1e-4) for k in range(3)]
    top1s = {'found': {0: 0.9, 1: 0.8}, 'cost_only': {0: 0.5, 1: 0.7},
             'random 0': {0: 0.2, 1: 0.4}, 'random 1': {0: 0.6, 1: 0.6},
             'random 2': {0: 0.125, 1: 0.125}}
    # standalone means: found 0.85, r0 0.3, r1 0.6, r2 0.125; the scores
    # order them the same but swap r0 and r2: 5 of 6 pairs concordant
    scores = [0.7, 0.2, 0.5, 0.3]
    report = lib.assemble_report(0.0189, result, cost_result, randoms,
                                 list(seeds), top1s, scores, 4)
    return report


def test_report_assembly(tmp_path):
    report = fake_outcome(tmp_path)
    assert report['target_gmacs'] == 0.0189
    assert report['found'] == dict(arch=dict(name='found'), gmacs=0.019,
                                   top1=pytest.approx(0.85),
                                   supernet_score=0.7)
    assert [r['top1'] for r in report['random']] == \
        pytest.approx([0.3, 0.6, 0.125])
    assert [r['supernet_score'] for r in report['random']] == [0.2, 0.5, 0.3]
    assert report['search_seconds'] == 12.0
    assert report['kendall_tau'] == pytest.approx(4 / 6)
    assert report['ranking']['architectures'] == 4
    assert report['ranking']['bn_recalibration_batches'] == 4
    assert report['cost_only'] == dict(arch=dict(name='cost'), gmacs=0.0188,
                                       top1=pytest.approx(0.6),
                                       search_seconds=3.0)
    assert [m['top1'] for m in report['supernet_top1']] == [0.25, 0.5]
    assert report['seeds'] == [
        dict(seed=0, found=0.9, cost_only=0.5, random=[0.2, 0.6, 0.125]),
        dict(seed=1, found=0.8, cost_only=0.7, random=[0.4, 0.6, 0.125])]
    json.dumps(report, allow_nan=False)  # plain JSON

    outcome = dict(report=report, target_fraction=0.5, extra=[],
                   demo_seconds=100.0, report_path='r.json',
                   plot_path='p.png')
    text = lib.format_summary(outcome)
    assert 'cost-only' in text and 'Kendall tau' in text and '0.667' in text
    assert 'supernet top-1 over the search: 50% 0.250, 100% 0.500' in text
    plot = tmp_path / 'plot.png'
    lib.plot(str(plot), 0.0189, report['found'], report['random'],
             report['cost_only'])
    assert plot.stat().st_size > 0


def test_report_with_a_constant_ranking_side():
    """All standalone top-1 equal (e.g. every network at chance): tau is
    undefined and reported as null."""
    result = dict(architecture={}, gmacs=0.02)
    randoms = [({}, 0.02), ({}, 0.02)]
    top1s = {name: {0: 0.125} for name in
             ('found', 'cost_only', 'random 0', 'random 1')}
    report = lib.assemble_report(0.02, result, dict(result), randoms, [0],
                                 top1s, [0.1, 0.2, 0.3], 0)
    assert report['kendall_tau'] is None
    assert 'batch statistics' in report['ranking']['scores']
    with pytest.raises(ValueError, match='2 supernet scores for 3'):
        lib.assemble_report(0.02, result, dict(result), randoms, [0], top1s,
                            [0.1, 0.2], 0)


def test_supernet_scores_of_a_search_checkpoint(tmp_path):
    """score_search loads the search's config and last checkpoint in this
    process and scores on the held-out split, with and without BN
    recalibration."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from runs import make_data

    from movinet_mm.search.space import SearchSpace
    data = make_data(str(tmp_path / 'data'))
    work = tmp_path / 'search'
    work.mkdir()
    with pytest.raises(SystemExit, match='no last_checkpoint'):
        lib.score_search(demo.parse_args([]), str(work), [])
    space = dict(stem_base=8, block_bases=(8, 16, 16, 16, 24),
                 project_base=32, head_channels=64, depths=(1, 2),
                 frames=(4, ), frame_strides=(1, ), resolutions=(32, ))
    config = f'''
_base_ = {osp.join(REPO, lib.SEARCH_CONFIG)!r}
model = dict(space={space!r})
_loader = dict(num_workers=0, persistent_workers=False,
               dataset=dict(ann_file={data!r} + '/val_list_videos.txt',
                            data_prefix=dict(video={data!r} + '/videos')))
train_dataloader = dict(batch_size=4, num_workers=0,
                        persistent_workers=False,
                        dataset=dict(ann_file={data!r} +
                                     '/train_list_videos.txt',
                                     data_prefix=dict(video={data!r} +
                                                      '/videos')))
train_cfg = dict(controller_dataloader=dict(batch_size=4, **_loader))
'''
    config_file = work / osp.basename(lib.SEARCH_CONFIG)
    config_file.write_text(config)
    init_default_scope('mmaction')
    # the supernet as the config builds it (its space and kernel sharing)
    cfg = Config.fromfile(str(config_file))
    model = MODELS.build(cfg.model)
    ckpt = str(work / 'iter_1.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    (work / 'last_checkpoint').write_text(ckpt)
    archs = [SearchSpace.from_dict(cfg.model.space).sample(k)
             for k in range(3)]
    for batches in (2, 0):
        args = demo.parse_args(['--bn-recalibration-batches', str(batches),
                                '--jobs', '1'])
        scores = lib.score_search(args, str(work), archs)
        assert len(scores) == 3 and all(0 <= s <= 1 for s in scores)
        assert lib.score_search(args, str(work), archs) == scores
