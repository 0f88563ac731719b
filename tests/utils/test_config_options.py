"""`--cfg-options data_root=X` moves every path the config derived from it."""
import os.path as osp

from helpers import REPO, load_tool
from mmengine.config import Config

from movinet_mm.utils.config import merge_cfg_options

SEARCH = osp.join(REPO, 'configs', 'search', 'tunas_synthetic.py')
DEMO = osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic.py')


def test_data_root_reaches_the_search_datasets():
    cfg = merge_cfg_options(Config.fromfile(SEARCH), {'data_root': '/d/x'})
    train = cfg.train_dataloader.dataset
    held_out = cfg.train_cfg.controller_dataloader.dataset
    assert train.ann_file == '/d/x/train_list_videos.txt'
    assert train.data_prefix.video == '/d/x/videos'
    assert held_out.ann_file == '/d/x/val_list_videos.txt'
    assert held_out.data_prefix.video == '/d/x/videos'


def test_explicit_paths_win_and_other_values_stay():
    options = {'data_root': '/d/x',
               'val_dataloader.dataset.ann_file': '/elsewhere/val.txt'}
    cfg = merge_cfg_options(Config.fromfile(DEMO), options)
    assert cfg.val_dataloader.dataset.ann_file == '/elsewhere/val.txt'
    assert cfg.test_dataloader.dataset.ann_file.startswith('/d/x/')
    assert cfg.model == Config.fromfile(DEMO).model


def test_train_and_test_tools_apply_it():
    for name in ('train', 'test'):
        tool = load_tool(f'tools/{name}.py')
        extra = ['x.pth'] if name == 'test' else []
        args = tool.parse_args([SEARCH, *extra, '--cfg-options',
                                'data_root=/d/x'])
        cfg = tool.merge_args(Config.fromfile(SEARCH), args)
        assert cfg.train_dataloader.dataset.ann_file == \
            '/d/x/train_list_videos.txt', name
