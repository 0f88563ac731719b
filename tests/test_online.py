"""Online recognition (API and tool) and training with sub-clips."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmaction.structures import ActionDataSample

from movinet_mm.apis import FramePreprocessor, OnlineRecognizer, recognize_frames

from helpers import backbone_cfg, build_recognizer, randomize_
from videos import moving_square, write_video

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

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


def test_online_recognizer_equals_whole_clip():
    model = randomize_(build_recognizer('a0', True, num_classes=4))
    pre = FramePreprocessor(36, (32, 32), [0, 0, 0], [255, 255, 255])
    online = OnlineRecognizer(model, pre)
    frames = moving_square(7, size=40)
    outputs = [p for _, p in recognize_frames(online, frames)]
    clip = torch.stack([pre(f) for f in frames], 1)[None]
    with torch.no_grad():
        whole = model.cls_head(model.backbone(clip)).softmax(-1)[0]
    torch.testing.assert_close(outputs[-1], whole, atol=1e-5, rtol=0)
    assert online.frames_seen == 7
    online.reset()
    torch.testing.assert_close(online.update(frames[0]), outputs[0])
    with pytest.raises(ValueError, match=r'\[H, W, 3\]'):
        online.update(np.zeros((32, 32, 4), dtype=np.uint8))


def test_online_recognizer_refuses_base_models():
    pre = FramePreprocessor(32, (32, 32), [0, 0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match='causal'):
        OnlineRecognizer(build_recognizer('a0', False), pre)


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


def test_frame_preprocessor_from_config():
    cfg = Config.fromstring(
        TINY_CONFIG.format(backbone=backbone_cfg('a0', True)), '.py')
    pre = FramePreprocessor.from_config(cfg)
    x = pre(np.full((60, 90, 3), 255, dtype=np.uint8))
    assert x.shape == (3, 32, 32)
    torch.testing.assert_close(x, torch.ones_like(x))


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
