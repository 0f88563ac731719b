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
