"""meta.json: schema version, checked fields, what a stateful IR really has;
a broken model file or video: one line naming it, exit 2, no traceback."""
import json
import os.path as osp
import runpy
import shutil
import sys

import numpy as np
import pytest
from helpers import REPO, load_tool, randomize_
from mmengine.config import Config
from mmengine.registry import MODELS
from videos import moving_square, write_broken_videos, write_video

import movinet_mm.deploy.meta as meta_module
from movinet_mm.deploy.export import export_model, openvino_from_onnx
from movinet_mm.deploy.meta import DeployError, read_meta
from movinet_mm.deploy.runtime import load_runtime

DEMO_CONFIG = osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic.py')
EVALUATE = osp.join(REPO, 'tools', 'deployment', 'evaluate_exported.py')
SIZE = 32


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """The demo config's model, random weights, exported: ONNX stream 32x32."""
    cfg = Config.fromfile(DEMO_CONFIG)
    model = randomize_(MODELS.build(cfg.model), seed=3).eval()
    out = str(tmp_path_factory.mktemp('exports') / 'onnx')
    export_model(model, 'onnx', 'stream', (SIZE, SIZE), out, cfg=cfg,
                 config_path=DEMO_CONFIG)
    return model, cfg, out


DROP = object()


def copy_export(src, dst, **changes):
    """A copy of an export whose meta.json has ``changes`` (DROP: drop)."""
    shutil.copytree(src, dst)
    path = osp.join(dst, 'meta.json')
    with open(path) as f:
        meta = json.load(f)
    for key, value in changes.items():
        if value is DROP:
            meta.pop(key, None)
        else:
            meta[key] = value
    with open(path, 'w') as f:
        json.dump(meta, f)
    return str(dst)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in text, text
    return lines[0]


# ------------------------------------------------------------ schema version
def test_schema_version(demo, tmp_path):
    _, _, out = demo
    version = meta_module.SCHEMA_VERSION
    assert read_meta(out)['schema_version'] == version
    # written before the schema version existed: layout 1, still loads
    old = copy_export(out, tmp_path / 'old', schema_version=DROP)
    assert read_meta(old).get('schema_version', 1) == 1
    assert load_runtime(old).state_names
    newer = copy_export(out, tmp_path / 'newer', schema_version=version + 1)
    with pytest.raises(DeployError, match=f'schema version {version + 1}.*'
                       'upgrade movinet_mm'):
        read_meta(newer)
    text = copy_export(out, tmp_path / 'text', schema_version='2')
    with pytest.raises(DeployError, match="'schema_version'"):
        read_meta(text)
    # int8 of an old export: written in the current layout
    from movinet_mm.deploy.quantize import quantize_stream_model
    int8 = quantize_stream_model(old, str(tmp_path / 'int8'),
                                 random_frames=2, log=lambda message: None)
    assert read_meta(int8)['schema_version'] == version


# ---------------------------------------------------------- checked fields
BAD_FIELDS = [
    ('frame_size', 'x', r"'frame_size'.*\[H, W\]"),
    ('frame_size', [32], r"'frame_size'.*\[H, W\]"),
    ('frame_size', [32, 0], r"'frame_size'"),
    ('preprocessing', DROP, "lacks.*'preprocessing'"),
    ('preprocessing', 'fixed', "'preprocessing'.*object"),
    ('num_classes', '8', "'num_classes'.*integer"),
    ('mode', 'video', "'mode'.*'stream' or 'clip'"),
    ('backend', 'tflite', "'backend'"),
    ('file', 5, "'file'"),
    ('file', '../model.onnx', "'file'"),
    ('stateful', 'no', "'stateful'.*true or false"),
    ('inputs', [{'name': 'image'}], r"'inputs\[0\]'.*shape"),
    ('outputs', 'logits', "'outputs'.*list"),
    ('state_names', ['a'], "'states'.*'state_names'"),
    ('states', [], "'states'.*'state_names'"),
    ('input_names', ['video'], "'input_names'.*'inputs'"),
    ('frames', 0, "'frames'"),
    ('class_names', ['one'], "'class_names'.*8"),
    ('state_layout', 'nhwc', "'state_layout'.*'channels_last'"),
]


@pytest.mark.parametrize('field,value,message', BAD_FIELDS,
                         ids=[f'{f}={"DROP" if v is DROP else repr(v)}'
                              for f, v, _ in BAD_FIELDS])
def test_meta_fields_are_checked(demo, tmp_path, field, value, message):
    _, _, out = demo
    bad = copy_export(out, tmp_path / 'bad', **{field: value})
    with pytest.raises(DeployError, match=message) as error:
        load_runtime(bad)
    assert '\n' not in str(error.value)
    assert 'meta.json' in str(error.value)


BAD_PREPROCESSING = [
    ('resize', dict(type='zoom', size=3), r"'preprocessing.resize'"),
    ('resize', dict(type='fixed', size='x'), r"'preprocessing.resize'"),
    ('crop', dict(type='center', size=[0, 3]), r"'preprocessing.crop'"),
    ('mean', [0, 0], r"'preprocessing.mean'.*3 numbers"),
    ('std', [1, 0, 1], r"'preprocessing.std'"),
    ('frame_interval', 0, r"'preprocessing.frame_interval'"),
    ('frame_offset', -1, r"'preprocessing.frame_offset'"),
]


@pytest.mark.parametrize('key,value,message', BAD_PREPROCESSING,
                         ids=[k for k, _, _ in BAD_PREPROCESSING])
def test_preprocessing_is_checked(demo, tmp_path, key, value, message):
    _, _, out = demo
    pre = dict(read_meta(out)['preprocessing'], **{key: value})
    bad = copy_export(out, tmp_path / 'bad', preprocessing=pre)
    with pytest.raises(DeployError, match=message):
        read_meta(bad)


def test_meta_that_is_not_an_object(demo, tmp_path):
    _, _, out = demo
    bad = copy_export(out, tmp_path / 'bad')
    with open(osp.join(bad, 'meta.json'), 'w') as f:
        f.write('[1, 2]')
    with pytest.raises(DeployError, match='JSON object'):
        read_meta(bad)


def test_exported_without_a_config_loads(demo, tmp_path):
    """``preprocessing: null`` (no config) is valid; the pipeline says why
    it cannot prepare frames."""
    from movinet_mm.datasets.frames import FramePipeline
    _, _, out = demo
    meta = read_meta(copy_export(out, tmp_path / 'bare',
                                 preprocessing=None))
    with pytest.raises(DeployError, match='no preprocessing'):
        FramePipeline.from_meta(meta)


# -------------------------------------------------------- stateful OpenVINO
def spec_of(port):
    """``(name, shape, dtype)`` of an OpenVINO port or variable."""
    shape = port.get_partial_shape() if hasattr(port, 'get_partial_shape') \
        else port.data_shape
    dims = [d.get_length() if d.is_static else None for d in shape]
    dtype = port.get_element_type() if hasattr(port, 'get_element_type') \
        else port.data_type
    return np.dtype(dtype.to_dtype()).name, dims


def test_stateful_openvino_meta_describes_the_ir(demo, tmp_path):
    import openvino as ov
    model, cfg, _ = demo
    out = export_model(model, 'openvino', 'stream', (SIZE, SIZE),
                       str(tmp_path / 'stateful'), cfg=cfg, stateful=True)
    meta = read_meta(out)
    ir = ov.Core().read_model(osp.join(out, 'model.xml'))
    for ports, specs in ((ir.inputs, meta['inputs']),
                         (ir.outputs, meta['outputs'])):
        assert [(p.get_any_name(), *spec_of(p)) for p in ports] == \
            [(s['name'], s['dtype'], s['shape']) for s in specs]
    assert meta['input_names'] == ['image']
    assert meta['output_names'] == ['logits']
    variables = {v.get_info().variable_id: spec_of(v.get_info())
                 for v in ir.get_variables()}
    assert len(variables) == len(model.state_spec(1, (SIZE, SIZE))) == 43
    assert {v['name']: (v['dtype'], v['shape'])
            for v in meta['variables']} == \
        {k: tuple(v) for k, v in variables.items()}
    # each variable names the state it holds, in the eager model's order
    assert [v['state'] for v in meta['variables']] == \
        list(model.state_spec(1, (SIZE, SIZE)))
    with pytest.raises(DeployError, match='stateful'):
        load_runtime(out)


# ------------------------------------------------------ broken model files
def truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.fixture
def broken_onnx(demo, tmp_path):
    _, _, out = demo
    broken = copy_export(out, tmp_path / 'broken_onnx')
    truncate(osp.join(broken, 'model.onnx'))
    return broken


def test_corrupt_onnx_is_one_line(broken_onnx):
    path = osp.join(broken_onnx, 'model.onnx')
    for backend in ('onnxruntime', 'openvino'):
        with pytest.raises(DeployError, match=f'{path}.*corrupt or '
                           'truncated.*export it again') as error:
            load_runtime(broken_onnx, backend)
        assert '\n' not in str(error.value)


@pytest.mark.parametrize('part', ['model.bin', 'model.xml'])
def test_corrupt_openvino_ir_is_one_line(demo, tmp_path, part):
    _, _, out = demo
    ir = copy_export(out, tmp_path / 'ir', backend='openvino',
                     file='model.xml')
    openvino_from_onnx(osp.join(ir, 'model.onnx'),
                       osp.join(ir, 'model.xml'), read_meta(out)['state_names'])
    assert load_runtime(ir).backend == 'openvino'
    truncate(osp.join(ir, part))
    with pytest.raises(DeployError, match=f'{osp.join(ir, part)}.*corrupt '
                       'or truncated.*export it again') as error:
        load_runtime(ir)
    assert '\n' not in str(error.value)


# garbage (ExecuTorch itself aborts the process on it), and a file shorter
# than its extended header says (cut short)
PTE_HEADER = (b'\x3c\x00\x00\x00ET12eh00' + (32).to_bytes(4, 'little') +
              (4000).to_bytes(8, 'little') + (4096).to_bytes(8, 'little') +
              (10 ** 7).to_bytes(8, 'little'))


@pytest.mark.parametrize('content', [
    np.random.default_rng(0).bytes(4096),
    PTE_HEADER + bytes(4096)], ids=['garbage', 'truncated'])
def test_corrupt_executorch_program_is_one_line(demo, tmp_path, content):
    pytest.importorskip('executorch')
    _, _, out = demo
    pte = copy_export(out, tmp_path / 'pte', backend='executorch',
                      file='model.pte')
    with open(osp.join(pte, 'model.pte'), 'wb') as f:
        f.write(content)
    with pytest.raises(DeployError, match=f'{osp.join(pte, "model.pte")}.*'
                       'corrupt or truncated.*export it again') as error:
        load_runtime(pte)
    assert '\n' not in str(error.value)


def test_tools_print_one_line_and_exit_2(broken_onnx, tmp_path, capsys,
                                         monkeypatch):
    video = write_video(str(tmp_path / 'clip.avi'), moving_square(4, 40))
    demo_tool = load_tool('tools/stream_demo.py')
    with pytest.raises(SystemExit) as error:
        demo_tool.main([broken_onnx, video, '--backend', 'onnxruntime'])
    assert error.value.code == 2
    assert 'corrupt or truncated' in one_line(capsys.readouterr().err)
    ann = tmp_path / 'ann.txt'
    ann.write_text('clip.avi 0\n')
    monkeypatch.setattr(sys, 'argv', [EVALUATE, broken_onnx, '--ann-file',
                                      str(ann), '--data-prefix',
                                      str(tmp_path)])
    with pytest.raises(SystemExit) as error:
        runpy.run_path(EVALUATE, run_name='__main__')
    assert error.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith('error: ') and 'model.onnx' in line


# ------------------------------------- the torch-free stream_example.py
@pytest.fixture(scope='module')
def example():
    return load_tool('tools/deployment/stream_example.py')


def run_example(example, capsys, *args):
    with pytest.raises(SystemExit) as error:
        example.main([str(a) for a in args])
    assert error.value.code == 2
    return one_line(capsys.readouterr().err)


def test_stream_example_bad_videos(example, demo, tmp_path, capsys):
    _, _, out = demo
    broken = write_broken_videos(str(tmp_path))
    tiny = write_video(str(tmp_path / 'tiny.avi'), moving_square(4, 16))
    cases = [
        (str(tmp_path / 'missing.avi'), 'no such file'),
        (broken['empty'], 'empty'),
        (broken['garbage'], 'cannot read'),
        (broken['garbled'], 'cannot read'),
        (tiny, r'16x16x6.*expected \[H, W, 3\]'),
    ]
    import re
    for video, message in cases:
        line = run_example(example, capsys, out, video)
        assert video in line and re.search(message, line), line
    # a frame the crop cannot fit: one line naming the model's needs
    pre = dict(read_meta(out)['preprocessing'], resize=None,
               crop=dict(type='center', size=[40, 40]))
    crop = copy_export(out, tmp_path / 'crop', preprocessing=pre)
    small = write_video(str(tmp_path / 'small.avi'), moving_square(4, 32))
    line = run_example(example, capsys, crop, small)
    assert small in line and 'smaller than the crop 40x40' in line, line


def test_stream_example_bad_exports(example, demo, broken_onnx, tmp_path,
                                    capsys):
    _, _, out = demo
    video = write_video(str(tmp_path / 'clip.avi'), moving_square(4, 40))
    line = run_example(example, capsys, broken_onnx, video)
    assert 'model.onnx' in line and 'corrupt or truncated' in line
    line = run_example(example, capsys, tmp_path / 'nothing', video)
    assert 'meta.json' in line
