"""An ensemble exports as its members (``member_<i>/``, each a normal export
with its own frame sampling) under a top ``meta.json`` that says how their
logits combine; the members' runtime logits average to the eager ensemble's."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import REPO, load_tool, randomize_
from mmengine.config import Config
from mmengine.registry import MODELS

from movinet_mm.datasets.frames import describe_preprocessing
from movinet_mm.deploy.meta import DeployError, read_meta
from movinet_mm.deploy.runtime import load_runtime

SYNTHETIC = osp.join(REPO, 'configs', 'movinet_a0_stream_synthetic_ensemble.py')
K600 = osp.join(REPO, 'configs', 'movinet_a0_stream_ensemble_k600.py')


def scaled_error(value, reference) -> float:
    value = np.asarray(value, np.float64)
    reference = np.asarray(reference, np.float64)
    assert value.shape == reference.shape
    return float(np.abs(value - reference).max() /
                 max(np.abs(reference).max(), 1e-6))


def test_ensemble_exports_its_members(tmp_path):
    cfg = Config.fromfile(SYNTHETIC)
    model = MODELS.build(cfg.model).eval()
    randomize_(model.members[0], seed=1)
    randomize_(model.members[1], seed=2)
    checkpoint = str(tmp_path / 'ensemble.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    out = str(tmp_path / 'ensemble_onnx')
    load_tool('tools/deployment/export.py').main(
        [SYNTHETIC, checkpoint, '--backend', 'onnx', '--mode', 'stream',
         '--frame-size', '40', '40', '--out', out])

    assert sorted(os.listdir(out)) == ['member_0', 'member_1', 'meta.json']
    with open(osp.join(out, 'meta.json')) as f:
        top = json.load(f)
    assert top['kind'] == 'ensemble' and top['combine'] == 'mean'
    assert [m['dir'] for m in top['members']] == ['member_0', 'member_1']
    assert [m['input_key'] for m in top['members']] == \
        ['imgs_even', 'imgs_odd']
    assert top['num_classes'] == 8 and top['schema_version'] >= 2
    # each member: a normal export with its own frame sampling
    metas = [read_meta(osp.join(out, m['dir'])) for m in top['members']]
    assert [m['preprocessing']['frame_interval'] for m in metas] == [4, 4]
    assert [m['preprocessing']['frame_offset'] for m in metas] == [0, 2]
    assert [m['ensemble']['index'] for m in metas] == [0, 1]
    assert all(m['preprocessing']['resize'] == dict(type='fixed',
                                                    size=[40, 40])
               for m in metas)
    # the top directory is not one model: a line that says what to do
    with pytest.raises(DeployError, match='ensemble of 2 members.*member_0'
                       '.*mean') as error:
        load_runtime(out)
    assert '\n' not in str(error.value)
    # --force may replace it (an export, members included), nothing else
    from movinet_mm.deploy.meta import check_model_dir
    assert check_model_dir(out, force=True) == osp.realpath(out)
    with pytest.raises(DeployError, match='non-empty'):
        check_model_dir(out)

    # parity: the mean of the members' runtime logits is the ensemble's
    generator = torch.Generator().manual_seed(0)
    clips = [torch.rand(1, 3, 5, 40, 40, generator=generator)
             for _ in top['members']]
    with torch.no_grad():
        eager = model({key: clip[None] for key, clip in
                       zip(model.input_keys, clips)}, mode='tensor').numpy()
    logits = [load_runtime(osp.join(out, m['dir'])).stream_step(clip)[0]
              for m, clip in zip(top['members'], clips)]
    assert scaled_error(np.mean(logits, 0), eager) <= 1e-4
    assert scaled_error(logits[0], logits[1]) > 1e-2  # members differ


def test_k600_ensemble_members_describe_their_sampling():
    """The odd member is shifted by ShiftFrameIndices: half a stride."""
    from movinet_mm.deploy.export import ensemble_member_configs
    cfg = Config.fromfile(K600)
    pres = [describe_preprocessing(c, (172, 172))
            for c in ensemble_member_configs(cfg)]
    assert [(p['frame_interval'], p['frame_offset']) for p in pres] == \
        [(10, 0), (10, 5)]
    assert pres[0]['resize'] == pres[1]['resize'] == \
        dict(type='short_side', size=192)
