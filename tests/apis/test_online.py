"""Online recognition (API and tool) and training with sub-clips."""
import glob
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import REPO, backbone_cfg, build_recognizer, randomize_
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from videos import SEEN, moving_square, shipped_config, write_video

from movinet_mm.apis import (
    FrameError,
    FramePipeline,
    OnlineRecognizer,
    config_sampling,
    init_recognizer,
    online_recognizer,
    read_video_frames,
    recognize_frames,
)

TINY_CONFIG = """
default_scope = 'mmaction'
custom_imports = dict(imports=['movinet_mm'], allow_failed_imports=False)
model = dict(
    type='MoViNetRecognizer',
    backbone={backbone!r},
    cls_head=dict(type='MoViNetHead', num_classes=4, in_channels=480),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[0., 0., 0.],
                           std=[255., 255., 255.], format_shape='NCTHW'))
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleAllFrames', frame_interval=2),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 36)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
"""


SMALL_FRAME = [dict(type='Resize', scale=(-1, 36)),
               dict(type='CenterCrop', crop_size=32)]


def test_online_recognizer_equals_whole_clip():
    model = randomize_(build_recognizer('a0', True, num_classes=4))
    pre = FramePipeline(SMALL_FRAME, [0, 0, 0], [255, 255, 255])
    online = OnlineRecognizer(model, pre)
    frames = moving_square(7, size=40)
    outputs = [p for _, p in recognize_frames(online, frames)]
    clip = torch.cat([pre(f) for f in frames], 2)
    with torch.no_grad():
        whole = model.cls_head(model.backbone(clip)).softmax(-1)[0]
    torch.testing.assert_close(outputs[-1], whole, atol=1e-5, rtol=0)
    assert online.frames_seen == 7
    online.reset()
    torch.testing.assert_close(online.update(frames[0]), outputs[0])
    # several frames at once (a list or [T, H, W, 3]) = one by one
    online.reset()
    torch.testing.assert_close(online.update(list(frames[:4])), outputs[3],
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(online.update(frames[4:]), outputs[-1],
                               atol=1e-5, rtol=0)


def test_frames_are_checked_before_they_reach_the_state():
    model = randomize_(build_recognizer('a0', True, num_classes=4))
    online = OnlineRecognizer(model, FramePipeline(SMALL_FRAME, [0] * 3,
                                                   [255] * 3))
    good = moving_square(2, size=40)
    online.update(good[0])
    state = online.state
    bad = {
        'grayscale': (np.zeros((40, 40), np.uint8), r'\(40, 40\).*grayscale'),
        'rgba': (np.zeros((40, 40, 4), np.uint8), r'\(40, 40, 4\)'),
        'channels first': (np.zeros((3, 40, 40), np.uint8),
                           r'\(3, 40, 40\)'),
        'float in [0, 1]': (good[1] / 255.0, r'uint8.*float64.*\[0, 1\]'),
        'nan': (np.full((40, 40, 3), np.nan, np.float32), 'NaN or inf'),
        'inf': (np.full((40, 40, 3), np.inf, np.float32), 'NaN or inf'),
        'int64': (good[1].astype(np.int64), 'uint8.*int64'),
        'a batch with a bad frame': ([good[1], good[1][..., 0]],
                                     r'\(40, 40\)'),
        'no frames': ([], 'no frames'),
    }
    for name, (frame, message) in bad.items():
        with pytest.raises(FrameError, match=message):
            online.update(frame)
        assert online.state is state and online.frames_seen == 1, name
    # a torch uint8 frame is fine, and changes the state
    online.update(torch.from_numpy(good[1]))
    assert online.frames_seen == 2 and online.state is not state
    # a frame of another size gives the same input (resize and crop)...
    online.update(np.zeros((40, 80, 3), np.uint8))
    # ...but without them one stream must keep one frame size
    online = OnlineRecognizer(model, FramePipeline([]))
    online.update(good[0])
    with pytest.raises(FrameError, match='keep the frame size'):
        online.update(np.zeros((40, 80, 3), np.uint8))


def test_online_recognizer_refuses_base_models():
    with pytest.raises(ValueError, match='causal'):
        OnlineRecognizer(build_recognizer('a0', False),
                         FramePipeline(SMALL_FRAME))


def _stream_configs():
    return [p for p in sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))
            if 'stream' in osp.basename(p) and
            'ensemble' not in osp.basename(p)]


@pytest.mark.parametrize('path', _stream_configs(), ids=osp.basename)
def test_every_stream_config_prepares_frames(path):
    """The frame pipeline of every shipped stream config gives the model's
    input size (the synthetic configs have no CenterCrop)."""
    cfg = Config.fromfile(path)
    pipeline = FramePipeline.from_config(cfg)
    crop = [s for s in cfg.test_pipeline if s['type'] == 'CenterCrop']
    resize = [s for s in cfg.test_pipeline if s['type'] == 'Resize'][0]
    size = crop[0]['crop_size'] if crop else resize['scale'][0]
    x = pipeline(np.full((90, 120, 3), 255, np.uint8))
    assert x.shape == (1, 3, 1, size, size)
    torch.testing.assert_close(x, torch.ones_like(x))  # std 255


def test_base_configs_say_why_not_online():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'movinet_a0_k600.py'))
    from mmaction.registry import MODELS
    with pytest.raises(ValueError, match='causal'):
        online_recognizer(MODELS.build(cfg.model), cfg)


@pytest.mark.parametrize('name', [
    'movinet_a0_stream_synthetic.py',
    # the demo's code path at another frame interval
    pytest.param('movinet_a0_stream_synthetic_halfrate.py',
                 marks=pytest.mark.slow),
    'movinet_a0_stream_synthetic_ensemble.py'])
def test_online_equals_the_stream_test_loop(name, tmp_path):
    """Same checkpoint, same video: a video fed frame by frame to
    OnlineRecognizer gets the stream test loop's prediction."""
    from mmengine.runner import Runner
    config = osp.join(REPO, 'configs', name)
    model, _ = init_recognizer(config)
    randomize_(model, seed=5)
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    root = str(tmp_path)
    write_video(osp.join(root, 'clip.avi'), moving_square(13, 64, seed=2))
    with open(osp.join(root, 'ann.txt'), 'w') as f:
        f.write('clip.avi 1\n')
    cfg = shipped_config(name, root, osp.join(root, 'ann.txt'),
                         tmp_path / 'run')
    cfg.test_dataloader.num_workers = 0
    cfg.load_from = checkpoint
    SEEN.clear()
    Runner.from_cfg(cfg).test()
    loop_scores = SEEN['clip.avi']

    model, cfg = init_recognizer(config, checkpoint)
    online = online_recognizer(model, cfg)
    probs = list(recognize_frames(
        online, read_video_frames(osp.join(root, 'clip.avi')),
        *config_sampling(cfg)))
    # the demo: every other frame; the half-rate member every 4th; the
    # ensemble's two members every 4th, from 0 and from 2
    step = 4 if name.endswith('halfrate.py') else 2
    assert [i for i, _ in probs] == list(range(0, 13, step))
    torch.testing.assert_close(probs[-1][1], loop_scores, atol=1e-4, rtol=0)


def test_stream_demo_tool_on_a_generated_video(tmp_path):
    config = tmp_path / 'tiny.py'
    config.write_text(TINY_CONFIG.format(backbone=backbone_cfg('a0', True)))
    video = write_video(str(tmp_path / 'clip.avi'), moving_square(9, 40))
    out_json, out_png = tmp_path / 'preds.json', tmp_path / 'probs.png'
    result = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'stream_demo.py'),
         str(config), 'none', video, '--topk', '2', '--out-json',
         str(out_json), '--out-png', str(out_png), '--print-every', '2'],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'final top-2' in result.stdout
    preds = json.loads(out_json.read_text())
    # frame_interval 2 from the config: frames 0, 2, 4, 6, 8
    assert [p['frame'] for p in preds['predictions']] == [0, 2, 4, 6, 8]
    assert len(preds['predictions'][0]['probs']) == 4
    assert out_png.stat().st_size > 1000


def _batch(frames=8):
    g = torch.Generator().manual_seed(0)
    return dict(
        inputs=[torch.randint(0, 255, (1, 3, frames, 32, 32),
                              dtype=torch.uint8, generator=g)
                for _ in range(2)],
        data_samples=[ActionDataSample().set_gt_label(i) for i in range(2)])


def test_training_with_sub_clips_accumulates_gradients():
    torch.manual_seed(0)
    model = build_recognizer('a0', True, '3d_2plus1d', num_classes=3)
    randomize_(model).train()
    model.train_cfg = dict(sub_clips=2)
    params = dict(model.named_parameters())
    before = params['backbone.blocks.1.0.expansion.conv.weight'].clone()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    log = model.train_step(_batch(), wrapper)
    assert torch.isfinite(log['loss'])
    assert not log['loss'].requires_grad
    after = params['backbone.blocks.1.0.expansion.conv.weight']
    assert not torch.equal(before, after)
    assert wrapper._inner_count == 1  # one iteration, not one per sub-clip
    # the DDP path (forward in 'loss' mode) cannot do sub-clips: say so
    data = model.data_preprocessor(_batch(), True)
    with pytest.raises(RuntimeError, match='sub_clips'):
        model(**data, mode='loss')
    with pytest.raises(ValueError, match='cannot split'):
        model.train_cfg = dict(sub_clips=20)
        model.train_step(_batch(), wrapper)


@pytest.fixture(scope='module')
def exported_demo_model(tmp_path_factory):
    """The demo config's model, random weights, exported to ONNX (stream)."""
    pytest.importorskip('onnxruntime')
    from movinet_mm.deploy.export import export_model
    root = tmp_path_factory.mktemp('export')
    config = osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic.py')
    model, cfg = init_recognizer(config)
    randomize_(model, seed=5)
    checkpoint = str(root / 'random.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    out = export_model(model, 'onnx', 'stream', (40, 40), str(root / 'onnx'),
                       cfg=cfg, config_path=config, checkpoint=checkpoint)
    video = write_video(str(root / 'clip.avi'), moving_square(11, 64, seed=3))
    return config, checkpoint, out, video


def _check_runtime_online(exported_demo_model, backend):
    """One step contract: an exported runtime gives the torch model's
    predictions, frame by frame, with the preprocessing of its meta.json."""
    from movinet_mm.deploy.runtime import load_runtime
    config, checkpoint, model_dir, video = exported_demo_model
    model, cfg = init_recognizer(config, checkpoint)
    eager = OnlineRecognizer.from_config(model, cfg)
    exported = OnlineRecognizer.from_runtime(
        load_runtime(model_dir, backend, num_threads=1))
    for (i, p), (j, q) in zip(
            recognize_frames(eager, read_video_frames(video), 2),
            recognize_frames(exported, read_video_frames(video), 2)):
        assert i == j
        scale = eager.last_logits.abs().max()
        torch.testing.assert_close(exported.last_logits / scale,
                                   eager.last_logits / scale, atol=1e-4,
                                   rtol=0)
        torch.testing.assert_close(q, p, atol=1e-4, rtol=0)
    assert exported.frames_seen == eager.frames_seen == 6
    with pytest.raises(FrameError, match='grayscale'):
        exported.update(np.zeros((64, 64), np.uint8))


@pytest.mark.slow
def test_online_recognizer_runs_exported_models_on_openvino(
        exported_demo_model):
    _check_runtime_online(exported_demo_model, 'openvino')


def test_exported_model_online_and_in_stream_demo(exported_demo_model,
                                                   tmp_path):
    """(One test, so that the export runs once per pytest worker.)"""
    _check_runtime_online(exported_demo_model, 'onnxruntime')
    config, checkpoint, model_dir, video = exported_demo_model
    demo = _stream_demo()
    runs = {}
    for backend, inputs in (('torch', [config, checkpoint, video]),
                            ('onnxruntime', [model_dir, video])):
        out = str(tmp_path / f'{backend}.json')
        demo.main(inputs + ['--backend', backend, '--out-json', out])
        with open(out) as f:
            runs[backend] = json.load(f)['predictions']
    assert [r['frame'] for r in runs['torch']] == [0, 2, 4, 6, 8, 10]
    for a, b in zip(runs['torch'], runs['onnxruntime']):
        np.testing.assert_allclose(a['probs'], b['probs'], atol=1e-4)
    # wrong argument counts for the backend, a missing model directory
    with pytest.raises(SystemExit, match='MODEL_DIR VIDEO'):
        demo.main([config, checkpoint, video, '--backend', 'onnxruntime'])
    with pytest.raises(SystemExit) as error:
        demo.main([str(tmp_path / 'nothing'), video, '--backend',
                   'onnxruntime'])
    assert '\n' not in str(error.value)


def _stream_demo():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'stream_demo', osp.join(REPO, 'tools', 'stream_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def test_stream_demo_bad_arguments_and_checkpoints(tmp_path):
    """One line each: bad numbers, a video that is not there, a checkpoint
    of another model (unless --non-strict)."""
    demo = _stream_demo()
    config = osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic.py')
    video = write_video(str(tmp_path / 'clip.avi'), moving_square(4, 40))
    for args, message in (
            (['--print-every', '0'], '--print-every must be >= 1, got 0'),
            (['--topk', '-1'], '--topk must be >= 1, got -1'),
            (['--frame-interval', '0'], '--frame-interval must be >= 1')):
        with pytest.raises(SystemExit, match=message):
            demo.main([config, 'none', video] + args)
    with pytest.raises(SystemExit, match='no such file'):
        demo.main([config, 'none', str(tmp_path / 'missing.avi')])
    other = build_recognizer('a0', True, num_classes=4)
    checkpoint = str(tmp_path / 'four_classes.pth')
    torch.save({'state_dict': other.state_dict()}, checkpoint)
    with pytest.raises(SystemExit) as error:
        demo.main([config, checkpoint, video])
    assert 'does not fit' in str(error.value)
    assert '\n' not in str(error.value) and error.value.code == 2
    demo.main([config, checkpoint, video, '--non-strict'])
