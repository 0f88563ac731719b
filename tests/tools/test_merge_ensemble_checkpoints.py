"""tools/merge_ensemble_checkpoints.py checks its members and never writes over one."""

import torch
from helpers import build_recognizer, load_tool

import movinet_mm  # noqa: F401


def _save(model, path, **extra):
    torch.save({'state_dict': model.state_dict(), 'meta': {'seed': 1},
                **extra}, path)
    return str(path)


class _Result:
    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def _merge(*args):
    """Run the merge tool in this process (as its command line would)."""
    tool = load_tool('tools/merge_ensemble_checkpoints.py')
    try:
        tool.main([str(a) for a in args])
    except SystemExit as exit:
        return _Result(1, str(exit.code) + '\n')
    return _Result(0, '')


def test_merge_checks_members_against_each_other(tmp_path):
    a0 = _save(build_recognizer('a0', True, '2plus1d', num_classes=5),
               tmp_path / 'a0.pth')
    a1 = _save(build_recognizer('a1', True, '2plus1d', num_classes=5),
               tmp_path / 'a1.pth')
    out = tmp_path / 'ens.pth'
    result = _merge(a0, a1, '--out', out)
    assert result.returncode != 0 and not out.exists()
    assert 'the members are different models' in result.stderr
    assert 'MoViNet-A0 stream' in result.stderr
    assert 'MoViNet-A1 stream' in result.stderr
    c7 = _save(build_recognizer('a0', True, '2plus1d', num_classes=7),
               tmp_path / 'c7.pth')
    result = _merge(a0, c7, '--out', out, '--mixed')
    assert 'different numbers of classes' in result.stderr
    bad = tmp_path / 'bad.pth'
    state = dict(torch.load(a0, weights_only=True)['state_dict'])
    state['backbone.note'] = 'not a tensor'
    torch.save({'state_dict': state}, bad)
    result = _merge(a0, bad, '--out', out)
    assert result.returncode != 0 and 'non-tensor entries' in result.stderr
    assert not out.exists()
    result = _merge(a0, a1, '--out', out, '--mixed')  # e.g. A6 = A4 + A5
    assert result.returncode == 0, result.stderr


def test_merge_never_writes_over_a_member(tmp_path):
    a0 = _save(build_recognizer('a0', True, '2plus1d', num_classes=5),
               tmp_path / 'a0.pth')
    before = open(a0, 'rb').read()
    link = tmp_path / 'link.pth'
    link.symlink_to(a0)
    for out in (a0, link, tmp_path / '.' / 'a0.pth'):
        result = _merge(a0, a0, '--out', out)
        assert result.returncode != 0
        assert 'is also an input' in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = _merge(a0, a0, '--out', tmp_path)
    assert 'is an existing directory' in result.stderr
    assert open(a0, 'rb').read() == before
