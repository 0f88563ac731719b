"""Multi-label exports: meta.json says so, runtimes and the online API give
the eager model's sigmoid probabilities; single-label ones are unchanged."""
import json

import numpy as np
import pytest
import torch
from helpers import load_tool
from mmengine.config import Config
from mmengine.registry import MODELS
from tiny_export import tiny_config
from videos import moving_square, write_video

from movinet_mm.apis.online import OnlineRecognizer
from movinet_mm.deploy.export import export_model
from movinet_mm.deploy.meta import DeployError, read_meta
from movinet_mm.deploy.runtime import class_probabilities, load_runtime
from movinet_mm.utils.random_weights import randomize_

MULTI = '''
model['cls_head'].update(multi_class=True,
                         loss_cls=dict(type='BCELossWithLogits'))
'''


def build(root, multi):
    path = tiny_config(root, 5, MULTI if multi else '')
    cfg = Config.fromfile(path)
    model = randomize_(MODELS.build(cfg.model), seed=3).eval()
    return model, cfg, path


@pytest.fixture(scope='module')
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp('multi')
    out = {}
    for multi in (True, False):
        model, cfg, path = build(_mkdir(root / str(multi)), multi)
        out[multi] = model, cfg, export_model(
            model, 'onnx', 'stream', (32, 32), str(root / f'onnx_{multi}'),
            cfg=cfg, config_path=path)
    model, cfg, path = out[True]
    clip = export_model(model, 'onnx', 'clip', (32, 32), str(root / 'clip'),
                        frames=6, cfg=cfg, config_path=path)
    return out, clip


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def frames(n=6, seed=0):
    return moving_square(n, 32, seed=seed)  # [T, 32, 32, 3] uint8 RGB


@pytest.mark.parametrize('multi', [True, False])
def test_meta_records_the_scores(exports, multi):
    _, _, out = exports[0][multi]
    meta = read_meta(out)
    assert meta['multi_label'] is multi
    assert meta['scores'] == ('sigmoid' if multi else 'softmax')
    assert load_runtime(out).multi_label is multi


@pytest.mark.parametrize('multi', [True, False])
def test_runtime_and_online_equal_eager(exports, multi):
    model, cfg, out = exports[0][multi]
    runtime = load_runtime(out)
    eager = OnlineRecognizer.from_config(model, cfg)
    online = OnlineRecognizer.from_runtime(runtime)
    assert eager.multi_label is multi and online.multi_label is multi
    for frame in frames():
        p_eager = eager.update(frame)
        p_online = online.update(frame)
    logits = eager.last_logits
    expected = logits.sigmoid() if multi else logits.softmax(-1)
    torch.testing.assert_close(p_eager, expected)
    torch.testing.assert_close(p_online, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(runtime.probabilities(online.last_logits),
                               expected.numpy(), atol=1e-5)
    if multi:  # independent per class, not a distribution
        assert not np.isclose(float(p_eager.sum()), 1.0)


def test_clip_export_gives_eager_sigmoid(exports):
    (model, _, _), clip = exports[0][True], exports[1]
    runtime = load_runtime(clip)
    assert runtime.multi_label
    x = torch.randn(1, 3, 6, 32, 32)
    with torch.no_grad():
        eager = model.cls_head(model.backbone(x)).sigmoid()
    np.testing.assert_allclose(runtime.probabilities(runtime.predict(x)),
                               eager.numpy(), atol=1e-5)


def _edit(out, tmp_path, name, **changes):
    import shutil
    dst = tmp_path / name
    shutil.copytree(out, dst)
    path = dst / 'meta.json'
    meta = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    path.write_text(json.dumps(meta))
    return str(dst)


def test_schema(exports, tmp_path):
    _, _, single = exports[0][False]
    # an older file without the fields: single-label, softmax
    old = _edit(single, tmp_path, 'old', multi_label=None, scores=None)
    runtime = load_runtime(old)
    assert not runtime.multi_label
    logits = np.array([[0.5, -1.0, 2.0, 0.0, 1.0]], np.float32)
    np.testing.assert_allclose(runtime.probabilities(logits),
                               torch.tensor(logits).softmax(-1).numpy(),
                               atol=1e-6)
    for name, changes, match in [
            ('text', dict(multi_label='yes'), "'multi_label' must be true"),
            ('odd', dict(scores='tanh'), "'scores' must be 'softmax' or 'sigmoid'"),
            ('mixed', dict(scores='sigmoid'),
             "'scores' must be 'softmax' for multi_label=false")]:
        with pytest.raises(DeployError, match=match) as info:
            read_meta(_edit(single, tmp_path, name, **changes))
        assert 'meta.json' in str(info.value)


def test_class_probabilities_no_overflow():
    p = class_probabilities(np.array([[-1000., 0., 1000.]]), True)
    np.testing.assert_allclose(p, [[0., 0.5, 1.]])


def test_stream_example_prints_sigmoid_probabilities(exports, tmp_path,
                                                     capsys):
    example = load_tool('tools/deployment/stream_example.py')
    model, cfg, out = exports[0][True]
    video = write_video(str(tmp_path / 'v.avi'), frames())
    example.main([out, video, '--topk', '5', '--out-json',
                  str(tmp_path / 'o.json')])
    printed = capsys.readouterr().out.splitlines()
    values = [float(line.split()[0]) for line in printed[-5:]]
    logits = np.array(json.loads((tmp_path / 'o.json').read_text())[
        'logits'])
    expected = sorted((1 / (1 + np.exp(-logits))).tolist(), reverse=True)
    np.testing.assert_allclose(values, expected, atol=2e-3)


def test_evaluate_exported_refuses_a_multi_label_model(exports, tmp_path):
    """top-1 means nothing for several labels: one line pointing to mAP."""
    evaluate = load_tool('tools/deployment/evaluate_exported.py').evaluate
    _, _, out = exports[0][True]
    video = write_video(str(tmp_path / 'v.avi'), frames())
    with pytest.raises(DeployError, match='multi-label model, scored by mAP'):
        evaluate([(out, 'onnxruntime')], [(video, 1)])
