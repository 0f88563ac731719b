"""The TF checkpoint converter without TensorFlow.

Checkpoints here are made from random PyTorch models: the strict mapping is
inverted (``torch_to_tf_vars``) and written in the TF2 tensor-bundle format
by a small writer below. The layout is pinned against the keys and shapes
of real official checkpoints (tests/official_tf_layout.json.gz);
tests/test_tf_parity.py covers real TF-written checkpoints and the logits.
"""
import contextlib
import gzip
import io
import itertools
import json
import logging
import os
import struct
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import REPO as REPO_ROOT
from helpers import TESTS, randomize_

from movinet_mm.converters import (
    CheckpointError,
    ConversionError,
    build_model,
    convert_tf_checkpoint,
    load_tf_checkpoint,
    save_checkpoint,
    tf_to_torch_state_dict,
)
from movinet_mm.converters.tf_checkpoint import SUFFIX, torch_to_tf_vars
from movinet_mm.converters.tf_reader import crc32c
from movinet_mm.models import convert_conv_type

REPO = Path(REPO_ROOT)
_LOGGERS = itertools.count()
LAYOUT = Path(TESTS) / 'official_tf_layout.json.gz'

# --------------------------------------------------------------------------
# A minimal TF2 tensor-bundle writer (the format tf_reader reads)

_ENUMS = {np.dtype('float32'): 1, np.dtype('float64'): 2,
          np.dtype('int32'): 3, np.dtype('uint8'): 4, np.dtype('int64'): 9,
          np.dtype('bool'): 10, np.dtype('float16'): 19}
BF16 = 14


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint(num << 3 | wire) + payload


def _mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xa282ead8) & 0xFFFFFFFF


def _entry(dtype: int, shape, offset: int, size: int, crc: int) -> bytes:
    dims = b''.join(
        _field(2, 2, _varint(len(d)) + d)
        for d in (_field(1, 0, _varint(s)) for s in shape))
    return (_field(1, 0, _varint(dtype)) + _field(2, 2, _varint(len(dims)) +
                                                   dims) +
            _field(4, 0, _varint(offset)) + _field(5, 0, _varint(size)) +
            _field(6, 5, struct.pack('<I', _mask(crc))))


def _block(entries, compression: int = 0):
    body = bytearray()
    restarts = []
    for key, value in entries:
        restarts.append(len(body))
        body += _varint(0) + _varint(len(key)) + _varint(len(value))
        body += key + value
    restarts = restarts or [0]
    body += b''.join(struct.pack('<I', r) for r in restarts)
    body += struct.pack('<I', len(restarts))
    trailer = bytes([compression]) + struct.pack(
        '<I', _mask(crc32c(bytes(body) + bytes([compression]))))
    return bytes(body), trailer


def write_tf_checkpoint(folder, tf_vars, prefix='ckpt-1', snappy=False,
                        bfloat16=()):
    """``tf_vars`` as the TF2 checkpoint ``folder/prefix`` (+ state file)."""
    os.makedirs(folder, exist_ok=True)
    data = bytearray()
    entries = [(b'', _field(1, 0, _varint(1)) +
                _field(3, 2, _varint(2) + _field(1, 0, _varint(1))))]
    for key in sorted(tf_vars):
        value = np.asarray(tf_vars[key])
        if key in bfloat16:  # truncated float32
            raw = (value.astype('<f4').view('<u4') >> 16).astype(
                '<u2').tobytes()
            dtype = BF16
        else:
            raw = value.astype(value.dtype.newbyteorder('<')).tobytes()
            dtype = _ENUMS[value.dtype]
        entries.append((key.encode(),
                        _entry(dtype, value.shape, len(data), len(raw),
                               crc32c(raw))))
        data += raw
    index = bytearray()
    body, trailer = _block(entries, 1 if snappy else 0)
    handle = _varint(0) + _varint(len(body))
    index += body + trailer
    meta_body, meta_trailer = _block([])
    meta_handle = _varint(len(index)) + _varint(len(meta_body))
    index += meta_body + meta_trailer
    idx_body, idx_trailer = _block([(entries[-1][0], handle)])
    idx_handle = _varint(len(index)) + _varint(len(idx_body))
    index += idx_body + idx_trailer
    footer = (meta_handle + idx_handle).ljust(40, b'\0')
    index += footer + struct.pack('<Q', 0xdb4775248b80fb57)
    base = os.path.join(folder, prefix)
    Path(base + '.index').write_bytes(bytes(index))
    Path(base + '.data-00000-of-00001').write_bytes(bytes(data))
    Path(folder, 'checkpoint').write_text(
        f'model_checkpoint_path: "{prefix}"\n'
        f'all_model_checkpoint_paths: "{prefix}"\n')
    return base


def make_tar(folder, tar_path, inner):
    with tarfile.open(tar_path, 'w:gz') as tar:
        for name in sorted(os.listdir(folder)):
            tar.add(os.path.join(folder, name), arcname=f'{inner}/{name}')
    return str(tar_path)


def official_vars(arch, mode, conv_type=None, num_classes=600, seed=0):
    model = randomize_(build_model(arch, mode, conv_type, num_classes), seed)
    tf_vars = torch_to_tf_vars(model)
    tf_vars['save_counter' + SUFFIX] = np.array(1, dtype=np.int64)
    return model, tf_vars


def run_tool(argv):
    """tools/convert_tf_checkpoint.py main(): (code, stdout, stderr)."""
    sys.path.insert(0, str(REPO / 'tools'))
    try:
        import convert_tf_checkpoint
    finally:
        sys.path.pop(0)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = convert_tf_checkpoint.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope='module')
def a0_base(tmp_path_factory):
    model, tf_vars = official_vars('a0', 'base', seed=1)
    folder = tmp_path_factory.mktemp('a0_base')
    write_tf_checkpoint(folder / 'movinet_a0_base', tf_vars)
    tar = make_tar(folder / 'movinet_a0_base',
                   folder / 'movinet_a0_base.tar.gz', 'movinet_a0_base')
    return model, tf_vars, folder / 'movinet_a0_base', tar


@pytest.fixture(scope='module')
def a0_stream(tmp_path_factory):
    model, tf_vars = official_vars('a0', 'stream', '2plus1d', seed=2)
    folder = tmp_path_factory.mktemp('a0_stream') / 'ckpt'
    write_tf_checkpoint(folder, tf_vars)
    return model, tf_vars, folder


def assert_failed(code, err, dst, *messages):
    assert code == 1
    for m in messages:
        assert m in err, err
    assert not os.path.exists(dst)
    assert not [f for f in os.listdir(os.path.dirname(dst))
                if f.endswith('.tmp')]


# --------------------------------------------------------------------------
# The mapping


@pytest.mark.parametrize('name', ['a0_base_3d', 'a0_stream_2plus1d',
                                  'a0_stream_3d_2plus1d', 'a3_base_3d',
                                  'a3_stream_2plus1d'])
def test_layout_is_official(name):
    """Inverting the mapping gives exactly the official keys and shapes."""
    official = json.loads(gzip.decompress(LAYOUT.read_bytes()))['models'][name]
    arch, mode, conv_type = name.split('_', 2)
    model = build_model(arch, mode, conv_type)
    ours = {k[:-len(SUFFIX)]: list(v.shape)
            for k, v in torch_to_tf_vars(model).items()}
    assert ours == official


@pytest.mark.parametrize('arch,mode,conv_type', [
    ('a0', 'base', '3d'), ('t0', 'stream', '2plus1d'),
    ('t0', 'stream', '3d_2plus1d'), ('a3', 'stream', '2plus1d')])
def test_round_trip(arch, mode, conv_type):
    """torch -> official TF layout -> torch gives identical weights."""
    model, tf_vars = official_vars(arch, mode, conv_type, seed=3)
    fresh = build_model(arch, mode, conv_type)
    state_dict = tf_to_torch_state_dict(tf_vars, fresh)
    expected = model.state_dict()
    assert list(state_dict) == list(expected)
    for k, v in expected.items():
        if not k.endswith('num_batches_tracked'):
            assert torch.equal(state_dict[k], v), k
    fresh.load_state_dict(state_dict, strict=True)


# --------------------------------------------------------------------------
# The reader


def test_reader_formats_and_dtypes(tmp_path):
    rng = np.random.RandomState(0)
    values = {
        'a/f32': rng.normal(size=(3, 4)).astype(np.float32),
        'a/f16': rng.normal(size=(5, )).astype(np.float16),
        'a/f64': rng.normal(size=(2, )),
        'a/i32': np.array([-7, 2**31 - 1], np.int32),
        'a/i64': np.array([[-2**62, 5]], np.int64),
        'a/u8': np.arange(4, dtype=np.uint8),
        'a/bool': np.array([True, False]),
        'a/scalar': np.float32(1.5),
        'a/big': rng.normal(size=(3, 3000)).astype(np.float32),
        'b/bf16': rng.normal(size=(2, 3)).astype(np.float32),
    }
    prefix = write_tf_checkpoint(tmp_path / 'x', values, prefix='weird-7',
                                 bfloat16={'b/bf16'})
    tar = make_tar(tmp_path / 'x', tmp_path / 'x.tar.gz', 'any_name')
    for src in (prefix, prefix + '.index', tmp_path / 'x', tar):
        got, _ = load_tf_checkpoint(src)
        assert set(got) == set(values)
        for k, v in values.items():
            want = np.asarray(v)
            if k == 'b/bf16':
                want = (want.view(np.uint32) & 0xFFFF0000).view(np.float32)
            assert got[k].dtype == want.dtype and got[k].shape == want.shape
            np.testing.assert_array_equal(got[k], want)


def test_crc32c():
    assert crc32c(b'123456789') == 0xE3069283  # the standard check value
    data = np.random.RandomState(0).bytes(50000)
    from movinet_mm.converters.tf_reader import _crc_raw_py
    for n in (0, 3, 4096, 4097, 50000):
        assert crc32c(data[:n]) == _crc_raw_py(0xFFFFFFFF, data[:n]) ^ \
            0xFFFFFFFF


def test_reader_errors(tmp_path):
    values = {'v': np.arange(2000, dtype=np.float32)}
    prefix = write_tf_checkpoint(tmp_path / 'ok', values)
    data = Path(prefix + '.data-00000-of-00001')
    raw = bytearray(data.read_bytes())
    raw[100] ^= 1
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match='checksum mismatch'):
        load_tf_checkpoint(prefix)
    data.write_bytes(bytes(raw[:50]))
    with pytest.raises(CheckpointError, match='past the end'):
        load_tf_checkpoint(prefix)
    snappy = write_tf_checkpoint(tmp_path / 'snappy', values, snappy=True)
    with pytest.raises(CheckpointError, match='snappy-compressed'):
        load_tf_checkpoint(snappy)
    index = Path(prefix + '.index')
    index.write_bytes(index.read_bytes()[:-3])
    with pytest.raises(CheckpointError, match='bad magic'):
        load_tf_checkpoint(prefix)
    os.remove(prefix + '.data-00000-of-00001')
    write_tf_checkpoint(tmp_path / 'nodata', values)
    os.remove(tmp_path / 'nodata' / 'ckpt-1.data-00000-of-00001')
    with pytest.raises(CheckpointError, match='missing checkpoint file'):
        load_tf_checkpoint(tmp_path / 'nodata')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(CheckpointError, match=r'no TF checkpoint \(\*.index'):
        load_tf_checkpoint(tmp_path / 'empty')


# --------------------------------------------------------------------------
# The tool


def test_convert_base_tar(a0_base, tmp_path):
    model, _, _, tar = a0_base
    dst = tmp_path / 'out' / 'movinet_a0_k600.pth'  # folder made on demand
    code, out, err = run_tool([tar, dst, '--arch', 'a0', '--mode', 'base'])
    assert code == 0, err
    import hashlib
    assert f'sha256 {hashlib.sha256(dst.read_bytes()).hexdigest()}' in out
    assert 'found: base (3d convs), 15 block layers (a0), 600 classes' in out
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    meta = ckpt['meta']
    assert meta['arch'] == 'a0' and meta['mode'] == 'base'
    assert meta['conv_type'] == '3d' and meta['num_classes'] == 600
    assert meta['converted_from'] == 'movinet_a0_base.tar.gz'
    assert all(isinstance(v, (str, int)) for v in meta.values())
    expected = model.state_dict()
    assert set(ckpt['state_dict']) == set(expected)
    for k, v in expected.items():
        assert torch.equal(ckpt['state_dict'][k], v), k
    assert os.listdir(dst.parent) == [dst.name]


def test_convert_stream_conv_types(a0_stream, tmp_path):
    model, tf_vars, folder = a0_stream
    for conv_type in (None, '2plus1d', '3d_2plus1d'):
        dst = tmp_path / f'{conv_type}.pth'
        args = [folder, dst, '--arch', 'a0', '--mode', 'stream']
        if conv_type:
            args += ['--conv-type', conv_type]
        code, out, err = run_tool(args)
        assert code == 0, err
        sd = torch.load(dst, weights_only=True)['state_dict']
        target = build_model('a0', 'stream', conv_type or '3d_2plus1d')
        target.load_state_dict(sd, strict=True)
        expected = convert_conv_type(model.state_dict(), target)
        assert all(torch.equal(sd[k], v) for k, v in expected.items())
        assert ('conv type 2plus1d -> 3d_2plus1d' in out) == (conv_type !=
                                                              '2plus1d')
    # and from a training (3d_2plus1d) checkpoint to 2plus1d
    train_model, train_vars = official_vars('a0', 'stream', '3d_2plus1d',
                                            seed=4)
    write_tf_checkpoint(tmp_path / 'train', train_vars)
    dst = tmp_path / 'from_train.pth'
    code, out, err = run_tool([tmp_path / 'train', dst, '--arch', 'a0',
                               '--mode', 'stream', '--conv-type', '2plus1d'])
    assert code == 0, err
    assert 'found: stream (3d_2plus1d convs)' in out
    target = build_model('a0', 'stream', '2plus1d')
    target.load_state_dict(torch.load(dst, weights_only=True)['state_dict'])
    expected = convert_conv_type(train_model.state_dict(), target)
    assert all(torch.equal(target.state_dict()[k], v)
               for k, v in expected.items())


def test_training_checkpoint_extras_are_ignored(a0_base, tmp_path):
    _, tf_vars, _, _ = a0_base
    extra = dict(tf_vars)
    key = next(k for k in tf_vars if k.endswith('_expansion/_conv/kernel' +
                                                SUFFIX))
    slot = key[:-len(SUFFIX)] + '/.OPTIMIZER_SLOT/optimizer/momentum' + SUFFIX
    extra[slot] = tf_vars[key]
    extra['optimizer/iter' + SUFFIX] = np.array(5, np.int64)
    extra['backbone/layer_with_weights-0/_stem/_conv/kernel' + SUFFIX] = \
        np.zeros((1, 3, 3, 3, 8), np.float32)
    write_tf_checkpoint(tmp_path / 'train', extra)
    code, _, err = run_tool([tmp_path / 'train', tmp_path / 'x.pth', '--arch',
                             'a0', '--mode', 'base'])
    assert code == 0, err


def _broken(tf_vars, tmp_path, edit):
    broken = dict(tf_vars)
    edit(broken)
    return write_tf_checkpoint(tmp_path / 'broken', broken)


def test_missing_extra_misshapen_variables(a0_base, tmp_path):
    _, tf_vars, _, _ = a0_base
    dst = tmp_path / 'x.pth'
    proj = ('model/layer_with_weights-0/layer_with_weights-3/_projection/'
            '_conv/kernel')

    prefix = _broken(tf_vars, tmp_path,
                     lambda d: d.pop(proj + SUFFIX))
    code, _, err = run_tool([prefix, dst, '--arch', 'a0', '--mode', 'base'])
    assert_failed(code, err, dst, f'missing in the TF checkpoint: {proj}',
                  'nothing written')

    extra = 'model/layer_with_weights-0/layer_with_weights-3/_extra/kernel'
    prefix = _broken(tf_vars, tmp_path, lambda d: d.__setitem__(
        extra + SUFFIX, np.zeros((3, ), np.float32)))
    code, _, err = run_tool([prefix, dst, '--arch', 'a0', '--mode', 'base'])
    assert_failed(code, err, dst, f'unused TF variable: {extra}')

    prefix = _broken(tf_vars, tmp_path, lambda d: d.__setitem__(
        proj + SUFFIX, np.zeros((1, 1, 1, 80, 33), np.float32)))
    code, _, err = run_tool([prefix, dst, '--arch', 'a0', '--mode', 'base'])
    assert_failed(code, err, dst, f'{proj} (33, 80, 1, 1, 1) does not fit')


def test_wrong_arch_or_mode(a0_base, a0_stream, tmp_path):
    dst = tmp_path / 'x.pth'
    base_dir, stream_dir = a0_base[2], a0_stream[2]
    code, _, err = run_tool([base_dir, dst, '--arch', 'a1', '--mode', 'base'])
    assert_failed(code, err, dst, 'variable count suggests arch a0',
                  'but --arch a1 was given')
    code, _, err = run_tool([stream_dir, dst, '--arch', 'a0', '--mode',
                             'base'])
    assert_failed(code, err, dst, 'this looks like a stream checkpoint '
                  '(found _conv_temporal', 'but --mode base was given')
    code, _, err = run_tool([base_dir, dst, '--arch', 'a0', '--mode',
                             'stream'])
    assert_failed(code, err, dst, 'this looks like a base checkpoint',
                  'but --mode stream was given')
    code, _, err = run_tool([base_dir, dst, '--arch', 'a0', '--mode', 'base',
                             '--conv-type', '2plus1d'])
    assert_failed(code, err, dst, 'is for stream models')


def test_positional_encoding_mismatch(tmp_path):
    _, tf_vars = official_vars('a3', 'stream', '2plus1d')
    no_pe = {k: v for k, v in tf_vars.items() if '_pos_encoding' not in k}
    write_tf_checkpoint(tmp_path / 'ckpt', no_pe)
    dst = tmp_path / 'x.pth'
    code, _, err = run_tool([tmp_path / 'ckpt', dst, '--arch', 'a3', '--mode',
                             'stream'])
    assert_failed(code, err, dst, 'lacks positional-encoding variables')


def test_bad_paths(tmp_path):
    dst = tmp_path / 'x.pth'
    code, _, err = run_tool([tmp_path / 'nope.tar.gz', dst, '--arch', 'a0',
                             '--mode', 'base'])
    assert_failed(code, err, dst, 'no such checkpoint')
    junk = tmp_path / 'junk.tar.gz'
    junk.write_bytes(b'<html>not found</html>')
    code, _, err = run_tool([junk, dst, '--arch', 'a0', '--mode', 'base'])
    assert_failed(code, err, dst, 'neither a tar archive')


def test_corrupt_archive(a0_base, tmp_path):
    tar = Path(a0_base[3])
    cut = tmp_path / 'cut.tar.gz'
    cut.write_bytes(tar.read_bytes()[:len(tar.read_bytes()) // 2])
    dst = tmp_path / 'x.pth'
    code, _, err = run_tool([cut, dst, '--arch', 'a0', '--mode', 'base'])
    assert_failed(code, err, dst, 'cannot read the archive', 'corrupt')
    flipped = bytearray(tar.read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF
    bad = tmp_path / 'bad.tar.gz'
    bad.write_bytes(bytes(flipped))
    code, _, err = run_tool([bad, dst, '--arch', 'a0', '--mode', 'base'])
    # zlib reports a flipped byte as a bad code or as a CRC failure,
    # depending on where it lands in the deflate stream.
    assert_failed(code, err, dst, 'cannot read the archive', 'corrupt')


def test_atomic_write(a0_base, tmp_path, monkeypatch):
    _, tf_vars, folder, _ = a0_base
    dst = tmp_path / 'keep.pth'
    dst.write_bytes(b'old')
    prefix = _broken(tf_vars, tmp_path, lambda d: d.pop(next(iter(d))))
    code, _, err = run_tool([prefix, dst, '--arch', 'a0', '--mode', 'base'])
    assert code == 1 and dst.read_bytes() == b'old'

    def failing_save(obj, f, *args, **kwargs):
        f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', failing_save)
    new_dir = tmp_path / 'new' / 'deeper'
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint({'state_dict': {}}, str(new_dir / 'x.pth'))
    assert not (tmp_path / 'new').exists()
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint({'state_dict': {}}, str(dst))
    assert dst.read_bytes() == b'old'
    assert sorted(os.listdir(tmp_path)) == ['broken', 'keep.pth']


def test_num_classes_and_finetune(tmp_path):
    model, tf_vars = official_vars('t0', 'base', num_classes=400, seed=5)
    write_tf_checkpoint(tmp_path / 'k400', tf_vars)
    dst = tmp_path / 'k400.pth'
    code, out, err = run_tool([tmp_path / 'k400', dst, '--arch', 't0',
                               '--mode', 'base'])
    assert code == 0, err
    assert '400 classes' in out
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['state_dict']['cls_head.fc_cls.weight'].shape == (400, 1024)
    assert ckpt['meta']['num_classes'] == 400

    code, _, err = run_tool([tmp_path / 'k400', tmp_path / 'y.pth', '--arch',
                             't0', '--mode', 'base', '--num-classes', '600'])
    assert_failed(code, err, tmp_path / 'y.pth', 'classifies 400 classes',
                  '--num-classes 600', '--finetune')

    code, _, err = run_tool([tmp_path / 'k400', tmp_path / 'y.pth', '--arch',
                             't0', '--mode', 'base', '--finetune'])
    assert_failed(code, err, tmp_path / 'y.pth', '--finetune needs '
                  '--num-classes')

    ft = tmp_path / 'ft.pth'
    code, out, err = run_tool([tmp_path / 'k400', ft, '--arch', 't0',
                               '--mode', 'base', '--num-classes', '51',
                               '--finetune'])
    assert code == 0, err
    assert ('fine-tuning: dropped the 400-class classifier '
            '(cls_head.fc_cls.weight, cls_head.fc_cls.bias)') in out
    ckpt = torch.load(ft, weights_only=True)
    assert 'cls_head.fc_cls.weight' not in ckpt['state_dict']
    assert ckpt['meta']['num_classes'] == 51
    assert ckpt['meta']['checkpoint_num_classes'] == 400


def _load_with_mmengine_log(model, path):
    from mmengine.logging import MMLogger
    from mmengine.runner import load_checkpoint
    logger = MMLogger.get_instance(f'test_converter_load_{next(_LOGGERS)}',
                                   log_level='INFO')
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        load_checkpoint(model, str(path), map_location='cpu', strict=False,
                        logger=logger)
    finally:
        logger.removeHandler(handler)
    return '\n'.join(messages)


def test_load_from_with_other_num_classes(tmp_path):
    """What MMEngine's load_checkpoint (``load_from``) logs, as documented in
    configs/README.md: a dropped classifier is 'missing', a kept one of
    another size is a 'size mismatch'; either way it keeps its fresh init
    and everything else loads."""
    _, tf_vars = official_vars('t0', 'base', seed=6)
    write_tf_checkpoint(tmp_path / 'ckpt', tf_vars)
    for finetune in (True, False):
        dst = tmp_path / f'{finetune}.pth'
        args = [tmp_path / 'ckpt', dst, '--arch', 't0', '--mode', 'base']
        if finetune:
            args += ['--num-classes', '51', '--finetune']
        assert run_tool(args)[0] == 0
        model = build_model('t0', 'base', num_classes=51)
        init = model.cls_head.fc_cls.weight.detach().clone()
        log = _load_with_mmengine_log(model, dst)
        assert 'The model and loaded state dict do not match exactly' in log
        if finetune:
            assert ('missing keys in source state_dict: '
                    'cls_head.fc_cls.weight, cls_head.fc_cls.bias') in log
        else:
            assert ('size mismatch for cls_head.fc_cls.weight: copying a '
                    'param with shape torch.Size([600, 1024]) from '
                    'checkpoint, the shape in current model is '
                    'torch.Size([51, 1024]).') in log
        assert torch.equal(model.cls_head.fc_cls.weight, init)
        sd = torch.load(dst, weights_only=True)['state_dict']
        for k, v in sd.items():
            if not k.startswith('cls_head.fc_cls'):
                assert torch.equal(model.state_dict()[k], v), k


def test_api_errors():
    with pytest.raises(ConversionError, match='unknown arch'):
        convert_tf_checkpoint('x', 'a9', 'base')
    with pytest.raises(ConversionError, match='unknown mode'):
        convert_tf_checkpoint('x', 'a0', 'fast')
