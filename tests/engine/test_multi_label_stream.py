"""Multi-label models in the stream test loop: the early-recognition curve
reports mAP, and its last point equals the whole-clip mAP."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import randomize_
from mmaction.evaluation import mean_average_precision
from mmengine.runner import Runner
from test_stream_loop import make_cfg as stream_loop_cfg
from videos import write_dataset

LABELS = ['0 2', '1', '0 1 2', '2', '1 2']


def make_cfg(root, ann_file, work_dir, stream=True):
    """The stream loop tests' config with a multi-label head, data and mAP;
    ``stream=False``: MMEngine's whole-clip TestLoop on the same videos."""
    cfg = stream_loop_cfg(root, ann_file, work_dir)
    cfg['model']['cls_head'].update(
        multi_class=True, loss_cls=dict(type='BCELossWithLogits'))
    cfg['test_dataloader']['dataset'].update(multi_class=True, num_classes=3)
    cfg['test_evaluator'] = dict(type='AccMetric',
                                 metric_list=('mean_average_precision', ))
    cfg['custom_hooks'] = [dict(type='StreamEvalHook')]
    if not stream:
        cfg['test_dataloader']['batch_size'] = 1
        cfg['test_cfg'] = dict(type='TestLoop')
        cfg['custom_hooks'] = []
    return cfg


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('videos'))
    ann = write_dataset(root, [5, 9, 12, 7, 6], labels=LABELS)
    return root, ann


def run(cfg):
    runner = Runner.from_cfg(cfg)
    randomize_(runner.model, seed=3)
    return runner, runner.test()


def test_stream_map_at_last_fraction_equals_clip_map(dataset, tmp_path):
    root, ann = dataset
    runner, metrics = run(make_cfg(root, ann, str(tmp_path / 's')))
    stream_map = metrics['acc/mean_average_precision']
    with open(osp.join(runner.log_dir, 'stream_eval.json')) as f:
        summary = json.load(f)
    curve = summary['early_recognition']
    assert 'top1' not in curve and len(curve['mAP']) == 4
    assert curve['fraction_seen'][-1] == 1.0
    assert curve['mAP'][-1] == pytest.approx(stream_map, abs=1e-6)
    assert sorted(r['labels'] for r in summary['per_video']) == sorted(
        [int(x) for x in label.split()] for label in LABELS)

    # the same model, whole clips through MMEngine's TestLoop
    _, clip_metrics = run(make_cfg(root, ann, str(tmp_path / 'c'), False))
    assert clip_metrics['acc/mean_average_precision'] == pytest.approx(
        stream_map, abs=1e-6)

    # and by hand: sigmoid of the whole-clip logits, MMAction2's mAP
    model = runner.model
    scores, labels = [], []
    for i in range(len(LABELS)):
        data = runner.test_dataloader.dataset[i]
        inputs = model.data_preprocessor(
            dict(inputs=[data['inputs']],
                 data_samples=[data['data_samples']]), False)['inputs']
        with torch.no_grad():
            logits = model.cls_head(model.backbone(inputs.flatten(0, 1)))
        scores.append(logits.sigmoid()[0].numpy())
        labels.append(data['data_samples'].gt_label.numpy())
    assert mean_average_precision(scores, labels) == pytest.approx(
        stream_map, abs=1e-6)
    assert 0 < stream_map < 1 and not np.isnan(stream_map)  # not trivial
