"""ONNX Runtime parity of every MoViNet, base (clip) and stream (frame by frame).

Slow (one ONNX export per model): run with ``make test-slow``.
"""
import pytest
import torch
from helpers import STREAM_ARCHS, build_recognizer, randomize_
from test_export import (
    FRAMES,
    RUNTIME_TOL,
    assert_stream_parity,
    eager_stream,
    scaled_error,
)

from movinet_mm.deploy.export import export_model
from movinet_mm.deploy.runtime import load_runtime

pytestmark = pytest.mark.slow


@pytest.mark.parametrize('arch', STREAM_ARCHS)
def test_onnxruntime_stream_parity(arch, tmp_path):
    model = randomize_(build_recognizer(arch, True, num_classes=11), seed=8)
    out = export_model(model, 'onnx', 'stream', (64, 56), str(tmp_path / arch))
    runtime = load_runtime(out, num_threads=2)
    video = torch.rand(1, 3, FRAMES, 64, 56)
    assert_stream_parity(eager_stream(model, video), runtime.stream_step,
                         runtime.state_names, RUNTIME_TOL, video,
                         runtime.state_layout)


@pytest.mark.parametrize('arch', STREAM_ARCHS)
def test_onnxruntime_base_clip_parity(arch, tmp_path):
    model = randomize_(build_recognizer(arch, False, num_classes=11), seed=9)
    out = export_model(model, 'onnx', 'clip', (64, 56), str(tmp_path / arch))
    runtime = load_runtime(out, num_threads=2)
    for frames in (5, 12):
        video = torch.rand(1, 3, frames, 64, 56)
        with torch.no_grad():
            ref = model.cls_head(model.backbone(video)).numpy()
        assert scaled_error(runtime.predict(video), ref) <= RUNTIME_TOL
