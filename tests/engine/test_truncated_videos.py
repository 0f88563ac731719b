"""One truncation rule on every path that reads videos.

A file whose container declares 32 frames but holds 5 (an AVI cut short, as
``head -c`` or a partial download leaves it; decord by path reads it as a
shorter video) is refused or skipped, with a line naming it, by the stream
demo, the stream test loop's read guard, int8 calibration, the evaluation
of exported models and the torch-free stream example.
"""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
from helpers import REPO, load_tool
from tiny_export import tiny_config, tiny_stream_export
from videos import moving_square, shipped_config, write_broken_videos, write_video

REASON = r'truncated: the container declares 32 frames, \d are there'


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('truncated')
    truncated = write_broken_videos(str(root), 40, 32)['truncated_late']
    good = write_video(str(root / 'good.avi'), moving_square(6, 40))
    return dict(root=root, truncated=truncated, good=good,
                model=tiny_stream_export(root, 3))


def refused(text, path):
    """The line of ``text`` that names ``path`` and the truncation."""
    lines = [line for line in text.splitlines()
             if path in line and re.search(REASON, line)]
    assert len(lines) == 1, text
    return lines[0]


def test_stream_demo_refuses_it(data):
    demo = load_tool('tools/stream_demo.py')
    with pytest.raises(SystemExit) as exit_info:
        demo.main([tiny_config(data['root']), 'none', data['truncated']])
    refused(str(exit_info.value), data['truncated'])


def test_stream_test_loop_skips_it(data, tmp_path):
    from mmaction.registry import DATASETS

    from movinet_mm.engine.loops.skipping import SKIPPED_KEY, ReadGuard
    ann = tmp_path / 'ann.txt'
    ann.write_text('good.avi 0\ntruncated_late.avi 1\n')
    cfg = shipped_config('movinet_a0_stream_synthetic.py', str(data['root']),
                         str(ann), tmp_path)
    assert cfg.test_cfg.type == 'StreamTestLoop'
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    guard = ReadGuard(dataset.pipeline, cfg.test_cfg.get('on_error', 'skip'))
    assert guard(dataset.get_data_info(0))['inputs'].shape[-3] > 0
    skipped = guard(dataset.get_data_info(1))['data_samples'].metainfo
    refused(f'skipped video {skipped[SKIPPED_KEY]}: '
            f'{skipped["skip_reason"]}', data['truncated'])


def test_calibration_skips_it(data):
    from movinet_mm.deploy.quantize import StreamCalibrationReader
    lines = []
    reader = StreamCalibrationReader(
        data['model'], [data['good'], data['truncated']], log=lines.append)
    assert reader.readable == [data['good']]
    refused('\n'.join(lines), data['truncated'])


def test_evaluation_skips_it(data):
    evaluate_exported = load_tool('tools/deployment/evaluate_exported.py')
    lines = []
    result = evaluate_exported.evaluate(
        [(data['model'], None)], [(data['good'], 0), (data['truncated'], 1)],
        log=lines.append)
    assert result['videos'] == 1 and len(result['skipped']) == 1
    refused('\n'.join(lines), data['truncated'])


def test_stream_example_refuses_it(data, tmp_path):
    example = osp.join(REPO, 'tools', 'deployment', 'stream_example.py')
    run = subprocess.run(
        [sys.executable, example, data['model'], data['truncated']],
        capture_output=True, text=True, cwd=str(tmp_path),
        env=dict(os.environ, PYTHONPATH=''))  # no repo modules on the path
    assert run.returncode == 2 and 'frames fed' not in run.stdout
    assert refused(run.stderr, data['truncated']).startswith(
        'cannot read video ')
    assert 'Traceback' not in run.stderr
