"""XNNPACK int8: PT2E calibration on real streams, the ExecuTorch program,
its evaluation, and the sources it refuses.

The tiny causal MoViNet of test_quantize.py with random weights, saved as a
checkpoint, exported to ExecuTorch at 32x32 and quantized with
tools/deployment/quantize.py on a few generated videos.
"""
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from helpers import REPO
from test_quantize import (
    fake_dir,
    stream,
    tiny_model,
    write_calibration_videos,
)

from movinet_mm.deploy.export import export_model
from movinet_mm.deploy.meta import DeployError, read_meta, write_json
from movinet_mm.deploy.quantize import FramePipeline, read_video
from movinet_mm.deploy.quantize_xnnpack import quantize_xnnpack_model
from movinet_mm.deploy.runtime import load_runtime

pytest.importorskip('executorch')
sys.path.insert(0, osp.join(REPO, 'tools', 'deployment'))
import evaluate_exported  # noqa: E402
import quantize as quantize_tool  # noqa: E402


@pytest.fixture(scope='module')
def tiny_et(tmp_path_factory):
    """A float ExecuTorch stream export with its checkpoint, and videos."""
    root = tmp_path_factory.mktemp('quantize_xnnpack')
    config, cfg, model = tiny_model(root)
    checkpoint = root / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict()), str(checkpoint))
    fp32 = export_model(model, 'executorch', 'stream', (32, 32),
                        str(root / 'fp32'), cfg=cfg, config_path=str(config),
                        checkpoint=str(checkpoint))
    videos, ann = write_calibration_videos(root)
    return dict(root=root, fp32=fp32, videos=videos, ann=str(ann),
                config=str(config), checkpoint=str(checkpoint), cfg=cfg,
                model=model)


def test_xnnpack_int8_quantize_and_evaluate(tiny_et, tmp_path, capsys):
    int8 = str(tmp_path / 'int8')
    assert quantize_tool.main([tiny_et['fp32'], '--out', int8, '--ann-file',
                               tiny_et['ann'], '--data-prefix',
                               str(tiny_et['videos'])]) == 0
    meta = read_meta(int8)
    q = meta['quantization']
    assert meta['backend'] == 'executorch' and meta['file'] == 'model.pte'
    assert q['format'] == 'XNNPACK' and q['per_channel']
    assert q['calibrate_method'] == 'histogram'  # the quantizer's observer
    assert q['pads_folded'] and 'constant_pad_nd' not in q['float_nodes']
    assert q['calibration']['videos'] == 4
    assert q['calibration']['frames'] == 6 + 7 + 8 + 9
    assert len(q['calibration']['skipped']) == 1 and \
        'broken.avi' in q['calibration']['skipped'][0]
    fp32_meta = read_meta(tiny_et['fp32'])
    assert meta['state_names'] == fp32_meta['state_names']
    assert meta['inputs'] == fp32_meta['inputs']

    a = load_runtime(tiny_et['fp32'])
    b = load_runtime(int8)
    pipeline = FramePipeline(a.meta['preprocessing'], a.frame_size)
    clip = read_video(str(tiny_et['videos'] / 'v3.avi'), pipeline)
    ref, ref_state = stream(a, clip)
    got, got_state = stream(b, clip)
    scale = np.abs(ref).max()
    assert np.abs(got - ref).max() / scale < 0.3
    assert np.abs(got - ref).max() > 0  # it is really quantized
    for name in a.state_names:
        if name.endswith('_frame_count'):
            assert got_state[name] == ref_state[name] == clip.shape[2]
        if name.endswith('_pool_buffer'):  # float sums, close to the float
            err = np.abs(got_state[name] - ref_state[name]).max()
            assert err <= 0.3 * np.abs(ref_state[name]).max() + 1e-3

    out_json = tmp_path / 'eval.json'
    assert evaluate_exported.main([tiny_et['fp32'], int8, '--ann-file',
                                   tiny_et['ann'], '--data-prefix',
                                   str(tiny_et['videos']), '--json',
                                   str(out_json)]) == 0
    capsys.readouterr()
    result = json.loads(out_json.read_text())
    fp32_row, int8_row = result['models']
    assert result['videos'] == 4 and fp32_row['agreement'] == 100.0
    assert int8_row['precision'].startswith('int8 XNNPACK')
    labels = [i % 3 for i in range(4)]
    preds = [int(stream(b, read_video(str(tiny_et['videos'] / f'v{i}.avi'),
                                      pipeline))[0][-1].argmax())
             for i in range(4)]
    assert int8_row['correct'] == sum(p == lab for p, lab in
                                      zip(preds, labels))


def test_xnnpack_int8_refuses_sources(tiny_et, tmp_path):
    video = [str(tiny_et['videos'] / 'v0.avi')]
    out = str(tmp_path / 'out')
    no_ckpt = export_model(tiny_et['model'], 'executorch', 'stream',
                           (32, 32), str(tmp_path / 'no_ckpt'),
                           cfg=tiny_et['cfg'], config_path=tiny_et['config'])
    with pytest.raises(DeployError, match='without a config and a checkpoint'):
        quantize_xnnpack_model(no_ckpt, out, video)
    changed = fake_dir(tmp_path, tiny_et['fp32'])
    meta = read_meta(changed)
    meta['source']['checkpoint_sha256'] = '0' * 64
    write_json(osp.join(changed, 'meta.json'), meta)
    with pytest.raises(DeployError, match='changed since'):
        quantize_xnnpack_model(changed, out, video)
    with pytest.raises(DeployError, match='are for ONNX exports'):
        quantize_tool.main([tiny_et['fp32'], '--out', out, '--videos',
                            *video, '--calibrate-method', 'entropy'])
    with pytest.raises(DeployError, match='none of the 1 calibration'):
        quantize_xnnpack_model(tiny_et['fp32'], out,
                               [str(tiny_et['videos'] / 'broken.avi')])
    assert not osp.exists(out)
