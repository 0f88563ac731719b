"""Deployment: the inference form equals eager; exports and runtimes match it.

Parity is checked frame by frame over many frames, on the logits and on
every state tensor (scaled by the reference's largest magnitude): a drift in
one stream buffer or pool sum shows up here long before it moves a top-1.
"""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import REPO, build_recognizer, randomize_
from mmengine.config import Config
from mmengine.registry import MODELS
from videos import moving_square, write_video

from movinet_mm.deploy import build_inference_model, stream_frames
from movinet_mm.deploy.export import MissingPackageError, export_model
from movinet_mm.deploy.meta import DeployError, read_meta
from movinet_mm.deploy.runtime import load_runtime
from movinet_mm.deploy.signal_stack import current_signal_stack, keep_signal_stack
from movinet_mm.models.layers.state import from_layout

DEMO_CONFIG = osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic.py')
EXPORT_TOOL = osp.join(REPO, 'tools', 'deployment', 'export.py')
EXAMPLE = osp.join(REPO, 'tools', 'deployment', 'stream_example.py')
FRAMES = 16
INFERENCE_TOL = 1e-5
RUNTIME_TOL = 1e-4


def scaled_error(value, reference) -> float:
    value = np.asarray(value, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert value.shape == reference.shape
    scale = max(np.abs(reference).max(), 1e-6)
    return float(np.abs(value - reference).max() / scale)


def eager_stream(model, video):
    """Eager logits and states after every frame, fed one at a time."""
    state, steps = None, []
    with torch.no_grad():
        for t in range(video.shape[2]):
            logits, state = model.stream_step(video[:, :, t:t + 1], state)
            steps.append((logits.numpy(), {k: v.numpy()
                                           for k, v in state.items()}))
    return steps


def assert_stream_parity(steps, run_step, state_names, tol, video, layout):
    """``run_step(frame, state) -> (logits, state)`` against eager steps;
    its states in ``layout`` (``STATE_LAYOUTS``)."""
    state = None
    worst = {}
    for t, (ref_logits, ref_state) in enumerate(steps):
        logits, state = run_step(video[:, :, t:t + 1], state)
        assert list(state) == list(state_names)
        errors = {'logits': scaled_error(logits, ref_logits)}
        for name in state_names:
            assert np.asarray(state[name]).dtype == ref_state[name].dtype, name
            value = from_layout(name, np.asarray(state[name]),
                                ref_state[name].shape, layout)
            errors[name] = scaled_error(value, ref_state[name])
        for name, error in errors.items():
            worst[name] = max(worst.get(name, 0.0), error)
            assert error <= tol, f'frame {t}: {name} off by {error:.2e}'
    assert np.abs(steps[-1][0]).max() > 1e-2  # not trivially equal
    return worst


def inference_step(model):
    def run(frame, state):
        states = (model.init_states() if state is None else
                  tuple(torch.from_numpy(np.asarray(state[n]))
                        for n in model.state_names))
        with torch.no_grad():
            out = model(frame, *states)
        return out[0].numpy(), dict(zip(model.state_names,
                                        (v.numpy() for v in out[1:])))
    return run


# ------------------------------------------------------- the inference form
@pytest.mark.parametrize('arch,conv_type,overrides,frames,layout', [
    ('a0', '2plus1d', {}, FRAMES, 'channels_first'),
    ('a0', '2plus1d', {}, FRAMES, 'channels_last'),
    ('a0', '2plus1d', {}, FRAMES, 'eager'),
    ('a0', '3d_2plus1d', {}, FRAMES, 'channels_first'),
    ('a3', '2plus1d', {}, 6, 'channels_last'),  # positional encoding in SE
    ('a0', '3d', dict(se_type='3d'), 6, 'channels_first'),  # full-3D kernels
    ('a0', '3d', dict(se_type='3d'), 6, 'channels_last'),
])
def test_stream_inference_form_equals_eager(arch, conv_type, overrides,
                                            frames, layout):
    model = randomize_(build_recognizer(arch, True, conv_type, num_classes=9,
                                        **overrides), seed=2)
    size = (40, 36) if arch == 'a0' else (33, 32)  # odd sizes: asymmetric pads
    video = torch.rand(1, 3, frames, *size)
    inference = build_inference_model(model, 'stream', size,
                                      state_layout=layout)
    assert inference.state_names == tuple(model.init_state(1, size))
    assert inference.state_layout == layout
    steps = eager_stream(model, video)
    assert_stream_parity(steps, inference_step(inference),
                         inference.state_names, INFERENCE_TOL, video, layout)
    assert len(inference.init_states()) == len(inference.state_names)
    # an eager state continues in the inference form, and back
    eager = {k: torch.from_numpy(v) for k, v in steps[-1][1].items()}
    states = inference.states_from_eager(eager)
    assert [tuple(s.shape) for s in states] == \
        [inference.state_shapes[n] for n in inference.state_names]
    back = inference.states_to_eager(states)
    assert all(torch.equal(back[k], eager[k]) for k in eager)


@pytest.mark.parametrize('size', [(40, 36), (33, 32)])  # even, odd: pads
def test_folded_pads_stream_like_explicit_ones(size):
    """fold_pads: no pad op left (stride-2 convs and the skip pools pad
    inside the window, then crop), the same logits and states."""
    model = randomize_(build_recognizer('a0', True, num_classes=9), seed=3)
    plain = build_inference_model(model, 'stream', size)
    folded = build_inference_model(model, 'stream', size).fold_pads()
    video = torch.rand(1, 3, 4, *size)
    graph = torch.export.export(folded, (video[:, :, :1],
                                         *folded.init_states())).graph
    assert not [n for n in graph.nodes if 'pad' in str(n.target)]
    crops = [m for m in folded.modules() if getattr(m, 'crop', None)]
    assert len(crops) >= 2  # an even size has asymmetric pads to fold
    if size == (40, 36):
        assert any(type(m).__name__ == 'InferenceAvgPool' for m in crops)
    a, b = plain.init_states(), folded.init_states()
    with torch.no_grad():
        for t in range(video.shape[2]):
            out_a = plain(video[:, :, t:t + 1], *a)
            out_b = folded(video[:, :, t:t + 1], *b)
            a, b = out_a[1:], out_b[1:]
            for x, y in zip(out_a, out_b):
                assert scaled_error(y.numpy(), x.numpy()) <= INFERENCE_TOL


@pytest.mark.parametrize('stream', [False, True])
def test_clip_inference_form_equals_eager(stream):
    model = randomize_(build_recognizer('a0', stream, num_classes=9), seed=4)
    inference = build_inference_model(model, 'clip', (56, 48))
    with torch.no_grad():
        for frames in (1, 8):
            video = torch.rand(1, 3, frames, 56, 48)
            ref = model.cls_head(model.backbone(video)).numpy()
            assert scaled_error(inference(video).numpy(), ref) <= \
                INFERENCE_TOL
    if stream:  # a causal clip equals streaming it frame by frame
        logits, _ = stream_frames(build_inference_model(model, 'stream',
                                                        (56, 48)), video)
        assert scaled_error(logits[-1].numpy(), ref) <= INFERENCE_TOL


def test_inference_form_bad_input():
    base = build_recognizer('a0', False, num_classes=3)
    with pytest.raises(ValueError, match='base model'):
        build_inference_model(base, 'stream', (64, 64))
    with pytest.raises(ValueError, match='at least 32'):
        build_inference_model(base, 'clip', (31, 64))
    stream = build_inference_model(build_recognizer('a0', True), 'stream',
                                   (32, 32))
    with pytest.raises(ValueError, match=r'\[1, 3, 1, 32, 32\]'):
        stream(torch.zeros(1, 3, 1, 64, 64), *stream.init_states())
    with pytest.raises(ValueError, match='state layout must be one of'):
        build_inference_model(build_recognizer('a0', True), 'stream',
                              (32, 32), state_layout='nhwc')


# ----------------------------------------------------------------- exports
@pytest.fixture(scope='module')
def demo_model(tmp_path_factory):
    """The demo config's model with random weights, saved as a checkpoint."""
    cfg = Config.fromfile(DEMO_CONFIG)
    model = randomize_(MODELS.build(cfg.model), seed=5)
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model, path


def run_tool(*args):
    spec = importlib.util.spec_from_file_location('export_tool', EXPORT_TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.main([str(a) for a in args])


@pytest.fixture(scope='module')
def stream_onnx(demo_model, tmp_path_factory):
    """The demo checkpoint exported through the tool: ONNX, stream, 40x40."""
    _, checkpoint = demo_model
    out = tmp_path_factory.mktemp('exports') / 'a0_stream_onnx'
    run_tool(DEMO_CONFIG, checkpoint, '--backend', 'onnx', '--mode',
             'stream', '--frame-size', 40, 40, '--out', out)
    return str(out)


@pytest.fixture(scope='module')
def demo_steps(demo_model):
    video = torch.rand(1, 3, FRAMES, 40, 40,
                       generator=torch.Generator().manual_seed(0))
    return video, eager_stream(demo_model[0], video)


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_exported_stream_model_matches_eager(demo_steps, stream_onnx,
                                             backend):
    runtime = load_runtime(stream_onnx, backend, num_threads=1)
    video, steps = demo_steps
    assert_stream_parity(steps, runtime.stream_step, runtime.state_names,
                         RUNTIME_TOL, video, runtime.state_layout)
    # several frames in one call = one at a time
    logits, state = runtime.stream_step(video)
    assert scaled_error(logits, steps[-1][0]) <= RUNTIME_TOL


def test_export_meta(demo_model, stream_onnx):
    model, checkpoint = demo_model
    meta = read_meta(stream_onnx)
    names = list(model.init_state(1, (40, 40)))
    assert meta['state_names'] == names
    assert meta['input_names'] == ['image', *names]
    assert meta['output_names'] == ['logits', *[f'{n}_out' for n in names]]
    assert [s['dtype'] for s in meta['states']][:3] == \
        ['float32', 'int64', 'float32']
    assert meta['inputs'][0]['shape'] == [1, 3, 1, 40, 40]
    assert meta['num_classes'] == 8 and meta['frame_size'] == [40, 40]
    pre = meta['preprocessing']
    assert pre['resize'] == dict(type='fixed', size=[40, 40])
    assert pre['mean'] == [0.0] * 3 and pre['std'] == [255.0] * 3
    assert pre['frame_interval'] == 2 and 'test_pipeline' not in pre
    import hashlib
    with open(checkpoint, 'rb') as f:
        assert meta['source']['checkpoint_sha256'] == \
            hashlib.sha256(f.read()).hexdigest()
    import onnx
    graph = onnx.load(osp.join(stream_onnx, 'model.onnx')).graph
    assert [i.name for i in graph.input] == meta['input_names']
    assert [o.name for o in graph.output] == meta['output_names']


def test_stateful_openvino_ir_streams_like_explicit_state(stream_onnx,
                                                         tmp_path):
    import openvino as ov

    from movinet_mm.deploy.export import openvino_from_onnx
    meta = read_meta(stream_onnx)
    xml = str(tmp_path / 'stateful.xml')
    openvino_from_onnx(osp.join(stream_onnx, 'model.onnx'), xml,
                       meta['state_names'], stateful=True)
    with keep_signal_stack():
        compiled = ov.Core().compile_model(
            xml, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})
    assert [i.get_any_name() for i in compiled.inputs] == ['image']
    request = compiled.create_infer_request()
    runtime = load_runtime(stream_onnx)
    video = np.random.default_rng(0).random((1, 3, 12, 40, 40), np.float32)
    for repeat in range(2):  # reset_state starts a new video
        state = None
        for t in range(video.shape[2]):
            frame = video[:, :, t:t + 1]
            ref, state = runtime.stream_step(frame, state)
            got = request.infer({'image': frame})[compiled.outputs[0]]
            assert scaled_error(got, ref) <= RUNTIME_TOL
        request.reset_state()


def test_openvino_ir_and_clip_exports(tmp_path):
    """Base A0 clip: ONNX (dynamic T) and OpenVINO IR equal eager."""
    model = randomize_(build_recognizer('a0', False, num_classes=6), seed=6)
    onnx_dir = export_model(model, 'onnx', 'clip', (48, 48),
                            str(tmp_path / 'onnx'))
    ov_dir = export_model(model, 'openvino', 'clip', (48, 48),
                          str(tmp_path / 'ov'))
    assert sorted(os.listdir(ov_dir)) == ['meta.json', 'model.bin',
                                          'model.xml']
    runtimes = [load_runtime(onnx_dir), load_runtime(onnx_dir, 'openvino'),
                load_runtime(ov_dir)]
    for frames in (3, 10):
        video = torch.rand(1, 3, frames, 48, 48)
        with torch.no_grad():
            ref = model.cls_head(model.backbone(video)).numpy()
        for runtime in runtimes:
            error = scaled_error(runtime.predict(video), ref)
            assert error <= RUNTIME_TOL, (runtime.backend, frames, error)
    with pytest.raises(DeployError, match='stream_step needs a stream '
                       'model.*use predict'):
        runtimes[0].stream_step(video)
    with pytest.raises(DeployError, match='needs a stream model'):
        runtimes[0].init_state()


def test_executorch_stream_export_matches_eager(tmp_path):
    pytest.importorskip('executorch')
    model = randomize_(build_recognizer('a0', True, num_classes=5), seed=7)
    out = export_model(model, 'executorch', 'stream', (32, 32),
                       str(tmp_path / 'et'))
    runtime = load_runtime(out)
    assert runtime.backend == 'executorch'
    video = torch.rand(1, 3, FRAMES, 32, 32)
    steps = eager_stream(model, video)
    assert_stream_parity(steps, runtime.stream_step, runtime.state_names,
                         RUNTIME_TOL, video, runtime.state_layout)


# --------------------------------------------------------- runtime errors
def test_runtime_errors(stream_onnx, tmp_path):
    runtime = load_runtime(stream_onnx)
    frame = np.zeros((1, 3, 1, 40, 40), np.float32)
    state = runtime.init_state()
    name = runtime.state_names[3]
    wrong = dict(state)
    wrong['state_block9_layer0_stream_buffer'] = wrong.pop(name)
    with pytest.raises(DeployError, match='state names do not match'):
        runtime.stream_step(frame, wrong)
    with pytest.raises(DeployError, match=f"state '{name}' has shape"):
        runtime.stream_step(frame, {**state, name: state[name][:, :1]})
    count = next(n for n in runtime.state_names if n.endswith('count'))
    with pytest.raises(DeployError, match=f"'{count}' has dtype float32, "
                       'expected int64'):
        runtime.stream_step(frame, {**state,
                                    count: state[count].astype(np.float32)})
    with pytest.raises(DeployError, match='exported for 40x40'):
        runtime.stream_step(np.zeros((1, 3, 1, 48, 48), np.float32))
    with pytest.raises(DeployError, match='predict needs a clip model'):
        runtime.predict(frame)
    with pytest.raises(DeployError, match='cannot run'):
        load_runtime(stream_onnx, 'executorch')
    with pytest.raises(DeployError, match='no meta.json'):
        load_runtime(str(tmp_path))


def test_missing_runtime_package_names_the_extra(stream_onnx, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(MissingPackageError,
                       match=r'onnxruntime is not installed.*'
                       r'movinet_mm\[deploy\]'):
        load_runtime(stream_onnx)


CHILD_EXIT_AFTER_OPENVINO = '''
import gc, signal, subprocess, sys
from movinet_mm.deploy.runtime import load_runtime
signal.signal(signal.SIGCHLD, lambda *a: None)  # as a DataLoader with workers
first = load_runtime(sys.argv[1], 'openvino')
second = load_runtime(sys.argv[1], 'openvino')
del first  # not in reverse order of creation
gc.collect()
del second
gc.collect()
for _ in range(3):
    subprocess.run([sys.executable, '-c', 'pass'], check=True)
print('alive')
'''


def test_openvino_runtime_keeps_the_signal_stack(stream_onnx):
    """Two OpenVINO models freed in creation order left a freed alternate
    signal stack installed, and the next SIGCHLD killed the process (an
    xdist worker, a training run) with SIGSEGV (exit 139 without the fix).
    The runtime restores the thread's own stack after compile_model."""
    before = current_signal_stack()
    runtime = load_runtime(stream_onnx, 'openvino')
    assert current_signal_stack() == before
    del runtime
    result = subprocess.run(
        [sys.executable, '-c', CHILD_EXIT_AFTER_OPENVINO, stream_onnx],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0 and 'alive' in result.stdout, \
        (result.returncode, result.stderr[-2000:])


# ------------------------------------------------------- export bad input
def test_export_tool_bad_input(demo_model, stream_onnx, tmp_path):
    _, checkpoint = demo_model
    base_cfg = osp.join(REPO, 'configs', 'movinet_a0_k600.py')
    base_ckpt = str(tmp_path / 'base.pth')
    base = MODELS.build(Config.fromfile(base_cfg).model)
    torch.save({'state_dict': base.state_dict()}, base_ckpt)
    common = ['--backend', 'onnx', '--frame-size', 40, 40]
    cases = [
        ((base_cfg, base_ckpt, '--mode', 'stream', *common, '--out',
          tmp_path / 'x'), 'base model: use --mode clip'),
        ((DEMO_CONFIG, checkpoint, '--mode', 'stream', '--backend', 'onnx',
          '--frame-size', 24, 40, '--out', tmp_path / 'x'), 'at least 32'),
        ((DEMO_CONFIG, checkpoint, '--mode', 'clip', '--backend',
          'executorch', '--frame-size', 40, 40, '--out', tmp_path / 'x'),
         'pass --frames'),
        ((DEMO_CONFIG, checkpoint, '--mode', 'stream', *common, '--out',
          stream_onnx), 'non-empty directory; remove it or pass --force'),
        ((DEMO_CONFIG, checkpoint, '--mode', 'stream', *common, '--out',
          checkpoint), 'existing file'),
        ((base_cfg, checkpoint, '--mode', 'clip', *common, '--out',
          tmp_path / 'x'), 'checkpoint'),  # strict: a stream ckpt, base cfg
        ((base_cfg, base_ckpt, '--mode', 'clip', *common, '--state-layout',
          'channels_last', '--out', tmp_path / 'x'),
         'is for --mode stream'),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            run_tool(*args)
    assert not osp.exists(tmp_path / 'x')
    # the same as one line from the command line
    result = subprocess.run(
        [sys.executable, EXPORT_TOOL, base_cfg, base_ckpt, '--mode', 'stream',
         *map(str, common), '--out', str(tmp_path / 'x')],
        capture_output=True, text=True, cwd=REPO)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith('error: ')
    assert 'Traceback' not in result.stderr


def test_failed_export_leaves_nothing(monkeypatch, tmp_path):
    from movinet_mm.deploy import export as export_module
    model = build_recognizer('a0', True, num_classes=3)

    def broken(model, mode, path, frames=None):
        with open(path, 'wb') as f:
            f.write(b'half a model')
        raise RuntimeError('exporter crashed')

    monkeypatch.setitem(export_module.EXPORTERS, 'onnx', broken)
    with pytest.raises(RuntimeError, match='exporter crashed'):
        export_model(model, 'onnx', 'stream', (32, 32), str(tmp_path / 'new'))
    assert os.listdir(tmp_path) == []
    # with --force an existing export survives a failed replacement
    old = tmp_path / 'old'
    old.mkdir()
    previous = '{"format_version": 1, "backend": "onnx", "file": "model.onnx"}'
    (old / 'meta.json').write_text(previous)
    with pytest.raises(RuntimeError, match='exporter crashed'):
        export_model(model, 'onnx', 'stream', (32, 32), str(old), force=True)
    assert os.listdir(tmp_path) == ['old']
    assert (old / 'meta.json').read_text() == previous


# -------------------------------------------------------- the example script
def test_stream_example_matches_runtime(stream_onnx, tmp_path):
    video = write_video(str(tmp_path / 'clip.avi'), moving_square(11, 64))
    out_json = tmp_path / 'out.json'
    env = dict(os.environ, PYTHONPATH='')  # no repo modules on the path
    result = subprocess.run(
        [sys.executable, EXAMPLE, stream_onnx, video, '--topk', '3',
         '--threads', '1', '--out-json', str(out_json)],
        capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-4].endswith('top-3:') and len(lines[-3].split()) >= 2
    got = json.loads(out_json.read_text())
    # the same frames through the runtime, preprocessed by the mmaction
    # pipeline of the config (Resize to 40x40)
    import decord
    from mmaction.datasets.transforms import Resize
    frames = decord.VideoReader(video)[::2].asnumpy()  # frame_interval 2
    resized = Resize(scale=(40, 40), keep_ratio=False)(
        dict(imgs=list(frames), img_shape=frames.shape[1:3],
             modality='RGB'))['imgs']
    clip = np.stack(resized).transpose(3, 0, 1, 2)[None] / 255.0
    logits, _ = load_runtime(stream_onnx).stream_step(clip.astype(np.float32))
    assert got['frames'] == len(frames)
    # the example's numpy resize vs mmcv's cv2 resize: a few uint8 levels
    assert scaled_error(got['logits'], logits[0]) <= 2e-2
    spec = importlib.util.spec_from_file_location('stream_example', EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    pre = read_meta(stream_onnx)['preprocessing']
    mine = np.concatenate([example.preprocess(f, pre) for f in frames], 2)
    assert np.abs(mine - clip).max() <= 2.0 / 255
