"""LiteRT (``--backend litert``): the converted A0-Stream equals eager frame by
frame (logits and every state tensor), and a model that does not match its
meta.json, a broken file or a missing package is one line.

The export needs litert-torch and ai-edge-litert (``make venv`` installs
them); without them the parity tests are skipped, the error tests not.
"""
import importlib.util
import json
import os.path as osp
import shutil
import sys

import numpy as np
import pytest
import torch
from helpers import build_recognizer, randomize_

from movinet_mm.deploy.export import MissingPackageError, export_model
from movinet_mm.deploy.meta import DeployError, read_meta
from movinet_mm.deploy.runtime import load_runtime
from movinet_mm.models.layers.state import from_layout

FRAMES = 12
TOL = 1e-4
SIZE = (32, 32)
HAVE_LITERT = all(importlib.util.find_spec(m) is not None
                  for m in ('litert_torch', 'ai_edge_litert'))
needs_litert = pytest.mark.skipif(
    not HAVE_LITERT, reason='litert-torch / ai-edge-litert not installed '
    '(pip install movinet_mm[litert-export] && pip install --no-deps '
    'litert-torch==0.10.0)')


def scaled_error(value, reference) -> float:
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert value.shape == reference.shape
    return float(np.abs(value - reference).max() /
                 max(np.abs(reference).max(), 1e-6))


@pytest.fixture(scope='module')
def model():
    return randomize_(build_recognizer('a0', True, num_classes=5), seed=7)


@pytest.fixture(scope='module')
def stream_litert(model, tmp_path_factory):
    if not HAVE_LITERT:
        pytest.skip('litert-torch / ai-edge-litert not installed')
    return export_model(model, 'litert', 'stream', SIZE,
                        str(tmp_path_factory.mktemp('litert') / 'a0'))


def copy_export(src, dst, **changes):
    """A copy of the export with meta.json fields replaced."""
    shutil.copytree(src, dst)
    meta = read_meta(str(dst))
    meta.update(changes)
    with open(osp.join(dst, 'meta.json'), 'w') as f:
        json.dump(meta, f)
    return str(dst)


@needs_litert
def test_stream_export_matches_eager(model, stream_litert):
    meta = read_meta(stream_litert)
    assert meta['backend'] == 'litert' and meta['file'] == 'model.tflite'
    n = len(meta['input_names'])
    # args_<i> / output_<i> by number, not as strings (args_10 < args_2)
    assert list(meta['signature']['inputs'].values()) == \
        [f'args_{i}' for i in range(n)]
    assert list(meta['signature']['outputs'].values()) == \
        [f'output_{i}' for i in range(n)]
    count = next(n for n in meta['state_names'] if n.endswith('count'))
    dtypes = {s['name']: s['dtype'] for s in meta['inputs']}
    assert dtypes[count] == 'int32'  # in the file; the contract stays int64
    assert {s['name']: s['dtype'] for s in meta['states']}[count] == 'int64'

    runtime = load_runtime(stream_litert, num_threads=1)
    assert runtime.backend == 'litert'
    # NHWC stream buffers: XNNPACK's layout, no transposes at the step's I/O
    assert runtime.state_layout == 'channels_last'
    video = torch.rand(1, 3, FRAMES, *SIZE,
                       generator=torch.Generator().manual_seed(0))
    eager_state, state = None, None
    with torch.no_grad():
        for t in range(FRAMES):
            frame = video[:, :, t:t + 1]
            ref, eager_state = model.stream_step(frame, eager_state)
            logits, state = runtime.stream_step(frame, state)
            assert list(state) == list(runtime.state_names)
            assert scaled_error(logits, ref) <= TOL, f'frame {t}: logits'
            for name in runtime.state_names:
                want = eager_state[name].numpy()
                assert state[name].dtype == want.dtype, name
                error = scaled_error(from_layout(name, state[name],
                                                 want.shape, 'channels_last'),
                                     want)
                assert error <= TOL, f'frame {t}: {name} off by {error:.1e}'
    assert np.abs(ref.numpy()).max() > 1e-2  # not trivially equal
    # several frames in one call are fed one at a time
    logits, _ = load_runtime(stream_litert).stream_step(video)
    assert scaled_error(logits, ref) <= TOL


@needs_litert
def test_model_that_does_not_match_its_meta_is_one_line(stream_litert,
                                                       tmp_path):
    meta = read_meta(stream_litert)
    # a tensor name the file does not have
    inputs = dict(meta['signature']['inputs'])
    inputs[meta['input_names'][1]] = 'args_999'
    bad = copy_export(stream_litert, tmp_path / 'names',
                      signature=dict(meta['signature'], inputs=inputs))
    with pytest.raises(DeployError, match='does not match its meta.json'):
        load_runtime(bad)
    # two states swapped: the names exist, the layouts differ
    a = meta['inputs'][1]
    b = next(s for s in meta['inputs'][2:] if s['shape'] != a['shape'])
    a, b = a['name'], b['name']
    key = meta['signature']['inputs'][b]
    inputs = dict(meta['signature']['inputs'], **{
        a: key, b: meta['signature']['inputs'][a]})
    bad = copy_export(stream_litert, tmp_path / 'swapped',
                      signature=dict(meta['signature'], inputs=inputs))
    with pytest.raises(DeployError, match=rf"input '{a}' \({key}\) is .* in "
                       'the file, .* in meta.json'):
        load_runtime(bad)
    # a layout meta.json says is channels-last
    spec = dict(meta['inputs'][1])
    spec['shape'] = spec['shape'][:1] + spec['shape'][2:] + spec['shape'][1:2]
    bad = copy_export(stream_litert, tmp_path / 'layout',
                      inputs=[meta['inputs'][0], spec, *meta['inputs'][2:]])
    with pytest.raises(DeployError, match='does not match its meta.json'):
        load_runtime(bad)
    # another signature key
    bad = copy_export(stream_litert, tmp_path / 'key',
                      signature=dict(meta['signature'], key='serve'))
    with pytest.raises(DeployError, match="no signature 'serve'"):
        load_runtime(bad)
    # a signature field that is not a mapping of the names in order
    bad = copy_export(stream_litert, tmp_path / 'field',
                      signature=dict(meta['signature'], outputs=['output_0']))
    with pytest.raises(DeployError, match="'signature.outputs' must be"):
        load_runtime(bad)
    # a truncated file
    bad = copy_export(stream_litert, tmp_path / 'cut')
    with open(osp.join(bad, 'model.tflite'), 'r+b') as f:
        f.truncate(4)
    with pytest.raises(DeployError, match='not a LiteRT flatbuffer'):
        load_runtime(bad)
    with pytest.raises(DeployError, match='cannot run'):
        load_runtime(stream_litert, 'onnxruntime')
    with pytest.raises(DeployError, match="precision 'bf16' is for openvino"):
        load_runtime(stream_litert, precision='bf16')


def test_missing_packages_name_the_extra(model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'litert_torch', None)
    with pytest.raises(MissingPackageError, match=r'litert-torch is not '
                       r'installed; install the litert-export extra: pip '
                       r'install movinet_mm\[litert-export\]'):
        export_model(model, 'litert', 'stream', SIZE, str(tmp_path / 'x'))
    assert not (tmp_path / 'x').exists()
    with pytest.raises(DeployError, match='LiteRT clip models have a fixed '
                       'length'):
        export_model(build_recognizer('a0', False, num_classes=5), 'litert',
                     'clip', SIZE, str(tmp_path / 'y'))


def test_missing_runtime_package_names_the_extra(tmp_path, monkeypatch):
    # a meta.json alone is enough: the package is asked for before the file
    meta = dict(
        schema_version=2, kind='model', backend='litert', mode='clip',
        file='model.tflite', stateful=False, frame_size=[32, 32], frames=2,
        inputs=[dict(name='video', shape=[1, 3, 2, 32, 32],
                     dtype='float32')],
        outputs=[dict(name='logits', shape=[1, 5], dtype='float32')],
        input_names=['video'], output_names=['logits'], state_names=[],
        states=[], num_classes=5, preprocessing=None,
        signature=dict(key='serving_default', inputs={'video': 'args_0'},
                       outputs={'logits': 'output_0'}))
    (tmp_path / 'meta.json').write_text(json.dumps(meta))
    (tmp_path / 'model.tflite').write_bytes(b'\0' * 16)
    monkeypatch.setitem(sys.modules, 'ai_edge_litert.interpreter', None)
    with pytest.raises(MissingPackageError, match=r'ai-edge-litert is not '
                       r'installed; install the litert extra: pip install '
                       r'movinet_mm\[litert\]'):
        load_runtime(str(tmp_path))
    del meta['signature']
    (tmp_path / 'meta.json').write_text(json.dumps(meta))
    with pytest.raises(DeployError, match="'signature' must be"):
        load_runtime(str(tmp_path))


@pytest.mark.slow
@needs_litert
def test_clip_export_matches_eager(tmp_path):
    model = randomize_(build_recognizer('a0', False, num_classes=5), seed=7)
    out = export_model(model.eval(), 'litert', 'clip', SIZE,
                       str(tmp_path / 'clip'), frames=4)
    video = torch.rand(1, 3, 4, *SIZE,
                       generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model.cls_head(model.backbone(video))
    assert scaled_error(load_runtime(out).predict(video), ref) <= TOL
