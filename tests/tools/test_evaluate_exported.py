"""tools/deployment/evaluate_exported.py on bad inputs: no readable video,
labels outside the model's classes, models with different class counts."""
import os.path as osp
import runpy
import sys

import pytest
from helpers import REPO
from tiny_export import tiny_stream_export
from videos import moving_square, write_video

TOOL = osp.join(REPO, 'tools', 'deployment', 'evaluate_exported.py')


@pytest.fixture(scope='module')
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp('evaluate')
    videos = root / 'videos'
    videos.mkdir()
    for i in range(4):
        write_video(str(videos / f'v{i}.avi'), moving_square(6, 40, seed=i))
    return dict(root=root, videos=videos, three=tiny_stream_export(root, 3),
                five=tiny_stream_export(root, 5))


def run_tool(monkeypatch, capsys, *args):
    """The tool as a user runs it: ``(exit code, stdout, stderr lines)``."""
    monkeypatch.setattr(sys, 'argv', [TOOL, *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(TOOL, run_name='__main__')
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err.strip().splitlines()


def ann(exports, lines):
    path = exports['root'] / f'ann_{abs(hash(tuple(lines)))}.txt'
    path.write_text(''.join(f'{line}\n' for line in lines))
    return ['--ann-file', path, '--data-prefix', exports['videos']]


def test_no_readable_video_is_one_error_line(exports, monkeypatch, capsys):
    (exports['videos'] / 'bad.avi').write_bytes(b'RIFF not a video')
    code, out, err = run_tool(monkeypatch, capsys, exports['three'],
                              *ann(exports, ['bad.avi 0', 'missing.avi 1']))
    assert code == 2 and out == ''
    assert err[-1].startswith('error: none of the 2 videos could be read: ')
    assert 'bad.avi' in err[-1]
    assert not any('Traceback' in line for line in err)


def test_labels_outside_the_classes_are_named_and_left_out(
        exports, monkeypatch, capsys):
    code, out, err = run_tool(
        monkeypatch, capsys, exports['three'],
        *ann(exports, ['v0.avi 0', 'v1.avi 12', 'v2.avi -1', 'v3.avi 2']))
    assert code == 0
    warnings = [line for line in err if 'outside' in line]
    assert len(warnings) == 1
    assert warnings[0].startswith('warning: 2 of 4 labels') and \
        'v1.avi' in warnings[0] and '3 classes' in warnings[0]
    assert '/2)' in out  # top-1 over the 2 videos with valid labels
    assert 'leaves out 2 videos' in out


def test_models_with_different_class_counts_are_not_compared(
        exports, monkeypatch, capsys):
    code, out, err = run_tool(monkeypatch, capsys, exports['three'],
                              exports['five'], *ann(exports, ['v0.avi 0']))
    assert code == 2 and out == '' and len(err) == 1
    assert err[0].startswith('error: cannot compare models with different '
                             'classes') and '5' in err[0]
