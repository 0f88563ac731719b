"""tools/convert_tf_checkpoint.py never writes over its input; the output-path check."""
import os.path as osp

import pytest
from helpers import load_tool

import movinet_mm  # noqa: F401
from movinet_mm.utils import check_output_path


def test_convert_never_writes_over_its_input(tmp_path, capsys):
    tool = load_tool('tools/convert_tf_checkpoint.py')
    archive = tmp_path / 'movinet_a0_base.tar.gz'
    archive.write_bytes(b'the release archive')
    assert tool.main([str(archive), str(archive), '--arch', 'a0',
                      '--mode', 'base']) == 1
    assert 'is also an input' in capsys.readouterr().err
    assert archive.read_bytes() == b'the release archive'
    # a checkpoint prefix: its .index and .data files are inputs too
    folder = tmp_path / 'ckpt'
    folder.mkdir()
    (folder / 'ckpt-1.index').write_bytes(b'index')
    (folder / 'ckpt-1.data-00000-of-00001').write_bytes(b'data')
    assert tool.main([str(folder / 'ckpt-1'), str(folder / 'ckpt-1.index'),
                      '--arch', 'a0', '--mode', 'base']) == 1
    assert (folder / 'ckpt-1.index').read_bytes() == b'index'
    assert tool.main([str(folder), str(folder / 'ckpt-1.data-00000-of-00001'),
                      '--arch', 'a0', '--mode', 'base']) == 1
    assert tool.main([str(archive), str(tmp_path), '--arch', 'a0',
                      '--mode', 'base']) == 1
    assert 'is an existing directory' in capsys.readouterr().err


def test_check_output_path(tmp_path):
    src = tmp_path / 'in.pth'
    src.write_bytes(b'x')
    assert check_output_path(tmp_path / 'out.pth', [src]) == \
        osp.realpath(tmp_path / 'out.pth')
    with pytest.raises(ValueError, match='also an input'):
        check_output_path(tmp_path / 'sub' / '..' / 'in.pth', [src])
    with pytest.raises(ValueError, match='existing directory'):
        check_output_path(tmp_path, [src])
