"""The output guards and atomic writers of movinet_mm.utils.files: nothing a
tool reads, nor anything it did not write, is ever replaced; outputs get the
user's umask; a failed write leaves nothing behind."""
import json
import os
import stat

import pytest

from movinet_mm.deploy.meta import EXPORT_TOOL, QUANTIZE_TOOL, check_model_dir
from movinet_mm.utils.files import (
    atomic_output_dir,
    atomic_output_file,
    check_output_dir,
    check_output_path,
    user_umask,
    write_json_atomic,
)


def model_dir(path, quantized=False, extra=()):
    """A directory that looks like an export (or an int8 model)."""
    path.mkdir(parents=True)
    meta = dict(format_version=1, backend='onnx', mode='stream',
                file='model.onnx')
    if quantized:
        meta['quantization'] = dict(format='QDQ')
    (path / 'meta.json').write_text(json.dumps(meta))
    (path / 'model.onnx').write_bytes(b'onnx')
    for name in extra:
        (path / name).write_text('mine')
    return path


@pytest.fixture
def checkpoint(tmp_path):
    folder = tmp_path / 'runs' / 'a0'
    folder.mkdir(parents=True)
    path = folder / 'epoch_1.pth'
    path.write_bytes(b'weights')
    return path


# ------------------------------------------------------ check_output_dir
@pytest.mark.parametrize('where', ['cwd', 'parent of cwd'])
def test_working_directory_is_never_an_output(tmp_path, monkeypatch, where):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'notes.txt').write_text('mine')
    monkeypatch.chdir(work)
    out = '.' if where == 'cwd' else '..'
    with pytest.raises(ValueError, match='is the working directory or '
                       'holds it'):
        check_output_dir(out, force=True)


@pytest.mark.parametrize('out', ['folder', 'ancestor'])
def test_a_folder_holding_an_input_is_never_an_output(checkpoint, out):
    target = checkpoint.parent if out == 'folder' else \
        checkpoint.parent.parent
    with pytest.raises(ValueError, match=r'holds an input \(.*epoch_1.pth\)'):
        check_output_dir(target, True, [checkpoint])
    with pytest.raises(ValueError, match='holds an input'):
        check_model_dir(str(target), True, [str(checkpoint)])
    assert checkpoint.read_bytes() == b'weights'


def test_an_input_is_never_an_output(tmp_path, checkpoint):
    src = model_dir(tmp_path / 'fp32')
    with pytest.raises(ValueError, match='is also an input'):
        check_model_dir(str(src), True, [str(src)], QUANTIZE_TOOL)
    with pytest.raises(ValueError, match='is also an input'):
        check_model_dir(str(tmp_path / 'x' / '..' / 'fp32'), True,
                        [str(src)], QUANTIZE_TOOL)
    with pytest.raises(ValueError, match='is an existing file'):
        check_output_dir(checkpoint, True, [checkpoint])


def test_non_empty_needs_force(tmp_path):
    out = model_dir(tmp_path / 'onnx')
    with pytest.raises(ValueError, match='non-empty directory; remove it or '
                       'pass --force'):
        check_model_dir(str(out))


def test_force_replaces_only_a_previous_output_of_the_same_tool(tmp_path):
    export = model_dir(tmp_path / 'onnx')
    int8 = model_dir(tmp_path / 'int8', quantized=True)
    assert check_model_dir(str(export), True) == str(export)
    assert check_model_dir(str(int8), True, (), QUANTIZE_TOOL) == str(int8)
    with pytest.raises(ValueError, match=f'holds an output of '
                       f'{QUANTIZE_TOOL}; --force replaces only a previous '
                       f'output of {EXPORT_TOOL}'):
        check_model_dir(str(int8), True)
    with pytest.raises(ValueError, match=f'holds an output of {EXPORT_TOOL}'):
        check_model_dir(str(export), True, (), QUANTIZE_TOOL)


@pytest.mark.parametrize('layout', ['foreign files', 'export and more',
                                    'broken meta'])
def test_force_never_replaces_other_files(tmp_path, layout):
    out = tmp_path / 'out'
    if layout == 'foreign files':
        out.mkdir()
        (out / 'report.pdf').write_text('mine')
        message = f'holds no output of {EXPORT_TOOL}'
    elif layout == 'export and more':
        model_dir(out, extra=['notes.txt'])
        message = r'holds files that .* does not write \(notes.txt\)'
    else:
        out.mkdir()
        (out / 'meta.json').write_text('{')
        message = 'holds no output of'
    before = sorted(os.listdir(out))
    with pytest.raises(ValueError, match=message):
        check_model_dir(str(out), True)
    assert sorted(os.listdir(out)) == before


def test_new_and_empty_dirs_are_fine(tmp_path):
    (tmp_path / 'empty').mkdir()
    assert check_output_dir(tmp_path / 'empty') == str(tmp_path / 'empty')
    assert check_output_dir(tmp_path / 'a' / 'b') == str(tmp_path / 'a' / 'b')


# ----------------------------------------------------- check_output_path
def test_output_file_checks(tmp_path, checkpoint):
    with pytest.raises(ValueError, match='--json .* is an existing '
                       'directory; expected a file path'):
        check_output_path(tmp_path, what='--json')
    with pytest.raises(ValueError, match='is also an input'):
        check_output_path(checkpoint, [checkpoint])
    with pytest.raises(ValueError, match=r'cannot be created: .*epoch_1.pth '
                       'is a file, not a directory'):
        check_output_path(checkpoint / 'out.json')
    assert check_output_path(tmp_path / 'new' / 'out.json') == \
        str(tmp_path / 'new' / 'out.json')


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes anywhere')
def test_output_in_a_read_only_folder(tmp_path):
    folder = tmp_path / 'ro'
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ValueError, match='no permission to write in'):
            check_output_path(folder / 'out.json')
        with pytest.raises(ValueError, match='no permission to write in'):
            check_output_dir(folder / 'out')
    finally:
        folder.chmod(0o755)


# ------------------------------------------------------- atomic writers
@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    user_umask.cache_clear()
    yield
    os.umask(old)
    user_umask.cache_clear()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_get_the_umask(tmp_path, umask_027):
    write_json_atomic(str(tmp_path / 'a.json'), {'x': 1})
    assert mode(tmp_path / 'a.json') == 0o640
    with atomic_output_file(str(tmp_path / 'b.pth')) as tmp:
        with open(tmp, 'wb') as f:
            f.write(b'weights')
    assert mode(tmp_path / 'b.pth') == 0o640
    with atomic_output_dir(str(tmp_path / 'export')) as tmp:
        write_json_atomic(os.path.join(tmp, 'meta.json'), {})
    assert mode(tmp_path / 'export') == 0o750
    assert mode(tmp_path / 'export' / 'meta.json') == 0o640


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic(str(tmp_path / 'new' / 'a.json'), {'x': object()})
    with pytest.raises(RuntimeError):
        with atomic_output_dir(str(tmp_path / 'deep' / 'export')) as tmp:
            open(os.path.join(tmp, 'model.onnx'), 'w').close()
            raise RuntimeError('exporter crashed')
    assert os.listdir(tmp_path) == []


def test_replacing_a_previous_output(tmp_path):
    out = model_dir(tmp_path / 'onnx')
    with atomic_output_dir(str(out)) as tmp:
        write_json_atomic(os.path.join(tmp, 'meta.json'), {'new': True})
    assert os.listdir(out) == ['meta.json']
    with pytest.raises(RuntimeError):
        with atomic_output_dir(str(out)):
            raise RuntimeError('exporter crashed')
    assert json.loads((out / 'meta.json').read_text()) == {'new': True}
    assert os.listdir(tmp_path) == ['onnx']
