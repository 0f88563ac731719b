"""The stream-aware test loop and eval hook, on generated video files."""
import json
import os
import os.path as osp

import pytest
import torch
from helpers import backbone_cfg, randomize_
from mmaction.registry import HOOKS
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.runner import Runner
from videos import write_dataset

from movinet_mm.models.recognizers.stream_scheduler import run_streams

RESULTS = {}


@HOOKS.register_module(force=True)
class _RecordPredictions(Hook):
    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        for sample in outputs:
            RESULTS[osp.basename(sample.filename)] = sample.pred_score.clone()


def make_cfg(root, ann_file, work_dir, chunk_size=2, batch_size=3,
             on_error='skip'):
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
                          average_clips='prob'),
            data_preprocessor=dict(type='ActionDataPreprocessor',
                                   mean=[0., 0., 0.], std=[255., 255., 255.],
                                   format_shape='NCTHW')),
        test_dataloader=dict(
            batch_size=batch_size,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='VideoDataset', ann_file=ann_file,
                         data_prefix=dict(video=root), pipeline=pipeline,
                         test_mode=True)),
        test_evaluator=dict(type='AccMetric'),
        test_cfg=dict(type='StreamTestLoop', chunk_size=chunk_size,
                      num_trace_points=4, on_error=on_error),
        custom_hooks=[dict(type='StreamEvalHook'),
                      dict(type='_RecordPredictions')],
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
    )


def run_test(cfg):
    RESULTS.clear()
    runner = Runner.from_cfg(cfg)
    randomize_(runner.model, seed=3)
    metrics = runner.test()
    return runner, metrics, dict(RESULTS)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('videos'))
    ann = write_dataset(root, [5, 9, 12, 7])
    return root, ann


def whole_clip_scores(runner, index):
    model = runner.model
    data = runner.test_dataloader.dataset[index]
    inputs = model.data_preprocessor(
        dict(inputs=[data['inputs']], data_samples=[data['data_samples']]),
        False)['inputs']
    with torch.no_grad():
        logits = model.cls_head(model.backbone(inputs.flatten(0, 1)))
    return logits.softmax(-1)[0]


def test_stream_loop_equals_whole_clip_evaluation(dataset, tmp_path,
                                                  capsys):
    root, ann = dataset
    cfg = make_cfg(root, ann, str(tmp_path))
    cfg['test_cfg']['progress_bar'] = True
    runner, metrics, preds = run_test(cfg)
    assert '2/2' in capsys.readouterr().out  # 4 videos, batches of 3
    assert len(preds) == 4 and metrics['acc/skipped_videos'] == 0
    assert 'acc/top1' in metrics
    for i in range(4):
        reference = whole_clip_scores(runner, i)
        torch.testing.assert_close(preds[f'video_{i}.avi'], reference,
                                   atol=1e-5, rtol=0)
    # the hook's JSON and plot
    log_dir = runner.log_dir
    with open(osp.join(log_dir, 'stream_eval.json')) as f:
        summary = json.load(f)
    assert summary['num_videos'] == 4
    assert summary['early_recognition']['fraction_seen'] == [0.25, 0.5,
                                                             0.75, 1.0]
    assert summary['seconds_per_frame_mean'] > 0
    assert osp.getsize(osp.join(log_dir, 'stream_eval.png')) > 1000


@pytest.mark.parametrize('chunk_size, batch_size', [(1, 1), (3, 4)])
def test_same_predictions_in_any_order_chunking_and_batching(
        dataset, tmp_path, chunk_size, batch_size):
    root, ann = dataset
    _, _, reference = run_test(make_cfg(root, ann, str(tmp_path / 'a')))
    with open(ann) as f:
        lines = f.readlines()
    shuffled = osp.join(str(tmp_path), 'shuffled.txt')
    with open(shuffled, 'w') as f:
        f.writelines([lines[i] for i in (2, 0, 3, 1)])
    _, _, preds = run_test(
        make_cfg(root, shuffled, str(tmp_path / 'b'), chunk_size,
                 batch_size))
    for name, score in reference.items():
        torch.testing.assert_close(preds[name], score, atol=1e-5, rtol=0)


def test_unreadable_videos_are_reported_and_skipped(dataset, tmp_path,
                                                     caplog):
    root, ann = dataset
    with open(osp.join(root, 'broken.avi'), 'wb') as f:
        f.write(os.urandom(2048))
    open(osp.join(root, 'empty.avi'), 'wb').close()
    with open(ann) as f:
        lines = f.readlines()
    bad_ann = osp.join(str(tmp_path), 'bad.txt')
    with open(bad_ann, 'w') as f:
        f.writelines(lines[:2] + ['broken.avi 1\n', 'empty.avi 0\n'] +
                     lines[2:])
    _, metrics, preds = run_test(make_cfg(root, bad_ann, str(tmp_path)))
    assert metrics['acc/skipped_videos'] == 2
    assert len(preds) == 4
    with pytest.raises(RuntimeError, match='broken.avi'):
        run_test(make_cfg(root, bad_ann, str(tmp_path / 'r'),
                          on_error='raise'))


def test_scheduler_cuts_each_stream_at_its_end():
    calls = []

    def step(x, state):
        calls.append(x.shape[2])
        seen = (state or {}).get('n', torch.zeros(x.shape[0]))
        seen = seen + x[:, 0, :, 0, 0].sum(1)
        return seen[:, None].repeat(1, 2), {'n': seen}

    clips = torch.zeros(3, 1, 10, 1, 1)
    for s, length in enumerate([3, 10, 6]):
        clips[s, 0, :length] = 1
        clips[s, 0, length:] = 100  # padding must never be fed
    result = run_streams(step, clips, [3, 10, 6], chunk_size=4)
    assert result.logits[:, 0].tolist() == [3, 10, 6]
    assert calls == [3, 1, 2, 2, 2]  # cut at 3, 4, 6, 8, 10
    with pytest.raises(ValueError, match='lengths'):
        run_streams(step, clips, [3, 11, 6], chunk_size=4)
    # every stream gets the same number of trace points, even one shorter
    # than that (its frame counts repeat)
    traced = run_streams(step, clips, [3, 10, 6], chunk_size=4,
                         num_trace_points=4)
    assert traced.trace_frames == [[1, 2, 3, 3], [3, 5, 8, 10],
                                   [2, 3, 5, 6]]
    assert [len(t) for t in traced.trace_logits] == [4, 4, 4]


def test_ensemble_streams_through_the_loop(dataset, tmp_path):
    """Multi-input models (one clip per member) in the stream loop."""
    root, ann = dataset
    with open(osp.join(root, 'broken_ens.avi'), 'wb') as f:
        f.write(os.urandom(2048))
    with open(ann) as f:
        lines = f.readlines()
    ens_ann = osp.join(str(tmp_path), 'ens.txt')
    with open(ens_ann, 'w') as f:
        f.writelines(lines + ['broken_ens.avi 1\n'])
    cfg = make_cfg(root, ens_ann, str(tmp_path))
    member = cfg['model']
    keys = ('imgs_even', 'imgs_odd')

    def branch(key, offset):
        return dict(type='KeyMapper', mapping=None, remapping=dict(imgs=key),
                    auto_remap=False, transforms=[
                        dict(type='SampleAllFrames', frame_interval=2,
                             offset=offset),
                        dict(type='DecordDecode'),
                        dict(type='Resize', scale=(-1, 36)),
                        dict(type='CenterCrop', crop_size=32),
                        dict(type='FormatShape', input_format='NCTHW')])

    cfg['model'] = dict(type='EnsembleRecognizer', members=[member, member],
                        input_keys=list(keys))
    cfg['test_dataloader']['dataset']['pipeline'] = [
        dict(type='DecordInit'), branch(keys[0], 0), branch(keys[1], 1),
        dict(type='PackActionInputs', collect_keys=keys,
             meta_keys=('img_shape', 'filename'))]
    runner, metrics, preds = run_test(cfg)
    assert metrics['acc/skipped_videos'] == 1 and len(preds) == 4
    model = runner.model
    for i in range(4):
        data = runner.test_dataloader.dataset[i]
        inputs = model.data_preprocessor(pseudo_collate([data]),
                                         False)['inputs']
        with torch.no_grad():
            logits = model(inputs, mode='tensor')
        torch.testing.assert_close(preds[f'video_{i}.avi'],
                                   logits.softmax(-1)[0], atol=1e-5, rtol=0)
