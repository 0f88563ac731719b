"""Multi-label models in the stream test loop: the early-recognition curve
reports mAP, and its last point equals the whole-clip mAP."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import backbone_cfg, randomize_
from mmaction.evaluation import mean_average_precision
from mmengine.runner import Runner
from videos import write_dataset

LABELS = ['0 2', '1', '0 1 2', '2', '1 2']


def make_cfg(root, ann_file, work_dir, stream=True):
    pipeline = [
        dict(type='DecordInit'),
        dict(type='SampleAllFrames', frame_interval=1),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 36)),
        dict(type='CenterCrop', crop_size=32),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs', meta_keys=('img_shape', 'filename')),
    ]
    return dict(
        default_scope='mmaction',
        work_dir=work_dir,
        model=dict(
            type='MoViNetRecognizer',
            backbone=backbone_cfg('a0', True),
            cls_head=dict(type='MoViNetHead', num_classes=3, in_channels=480,
                          multi_class=True,
                          loss_cls=dict(type='BCELossWithLogits'),
                          average_clips='prob'),
            data_preprocessor=dict(type='ActionDataPreprocessor',
                                   mean=[0., 0., 0.], std=[255., 255., 255.],
                                   format_shape='NCTHW')),
        test_dataloader=dict(
            batch_size=3 if stream else 1,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='VideoDataset', ann_file=ann_file,
                         data_prefix=dict(video=root), pipeline=pipeline,
                         multi_class=True, num_classes=3, test_mode=True)),
        test_evaluator=dict(type='AccMetric',
                            metric_list=('mean_average_precision', )),
        test_cfg=dict(type='StreamTestLoop', chunk_size=2,
                      num_trace_points=4) if stream else
        dict(type='TestLoop'),
        custom_hooks=[dict(type='StreamEvalHook')] if stream else [],
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
    )


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
