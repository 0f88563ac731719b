"""Multi-label MoViNets: sigmoid scores, BCE loss, mAP, checked annotations."""
import math

import pytest
import torch
from mmaction.evaluation import AccMetric
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample

from movinet_mm.datasets import AnnotationError


def make_head(multi_class=True, average_clips='prob', num_classes=3):
    head = MODELS.build(dict(
        type='MoViNetHead', num_classes=num_classes, in_channels=8,
        hidden_channels=4, multi_class=multi_class,
        loss_cls=dict(type='BCELossWithLogits') if multi_class else
        dict(type='CrossEntropyLoss'), average_clips=average_clips))
    return head.eval()


def samples(labels, num_classes=3):
    out = []
    for label in labels:
        hot = torch.zeros(num_classes)
        hot[label] = 1
        out.append(ActionDataSample().set_gt_label(hot))
    return out


def test_bce_loss_known_answer():
    head = make_head()
    logits = torch.tensor([[0., math.log(3), -math.log(3)]])
    losses = head.loss_by_feat(logits, samples([[0, 1]]))
    expected = (math.log(2) + 2 * math.log(4 / 3)) / 3
    assert losses['loss_cls'].item() == pytest.approx(expected, rel=1e-6)
    assert not any(k.startswith('top') for k in losses)  # no top-k
    # batch of 2: the mean over samples and classes
    logits = torch.zeros(2, 3)
    losses = head.loss_by_feat(logits, samples([[0], [1, 2]]))
    assert losses['loss_cls'].item() == pytest.approx(math.log(2))


def test_multi_label_head_refuses_single_label_targets():
    head = make_head()
    with pytest.raises(ValueError, match='multi_class=True'):
        head.loss_by_feat(torch.zeros(1, 3),
                          [ActionDataSample().set_gt_label(2)])


@pytest.mark.parametrize('average_clips', ['prob', 'score', None])
def test_predict_gives_sigmoid_probabilities(average_clips):
    head = make_head(average_clips=average_clips)
    logits = torch.randn(2 * 3, 3)  # 2 videos, 3 views each
    out = head.predict_by_feat(logits.clone(), samples([[0], [1, 2]]))
    views = logits.view(2, 3, 3)
    expected = {
        'prob': views.sigmoid().mean(1),
        'score': views.mean(1).sigmoid(),
        None: views.sigmoid(),
    }[average_clips]
    for sample, ref in zip(out, expected):
        torch.testing.assert_close(sample.pred_score, ref)


def test_single_label_head_unchanged():
    head = make_head(multi_class=False)
    logits = torch.randn(4, 3)
    out = head.predict_by_feat(logits.clone(), samples([[0], [1]]))
    torch.testing.assert_close(out[0].pred_score,
                               logits[:2].softmax(-1).mean(0))


def test_map_known_answer():
    """Class 0's AP is 7/12 (a negative ranked first), classes 1, 2 are
    ranked perfectly: mAP = (7/12 + 1 + 1) / 3 with MMAction2's metric."""
    probs = torch.tensor([[0.9, 0.9, 0.1],
                          [0.8, 0.2, 0.6],
                          [0.1, 0.7, 0.3]])
    labels = [[1], [0, 2], [0, 1]]
    head = make_head(average_clips='score')
    out = head.predict_by_feat(torch.logit(probs), samples(labels))
    metric = AccMetric(metric_list=('mean_average_precision',
                                    'mmit_mean_average_precision'))
    metric.process(None, [s.to_dict() for s in out])
    result = metric.compute_metrics(metric.results)
    assert result['mean_average_precision'] == pytest.approx(
        (7 / 12 + 2) / 3)
    # per sample: s0 ties its label with a negative at 0.9 (AP 1/2), s1
    # ranks 0.8, 0.6 first (AP 1), s2 ranks 0.7 then 0.1 below 0.3
    # (AP (1 + 2/3) / 2)
    assert result['mmit_mean_average_precision'] == pytest.approx(
        (1 / 2 + 1 + 5 / 6) / 3)


def member(multi_class):
    return dict(type='MoViNetRecognizer',
                backbone=dict(type='MoViNet', arch='a0', causal=True),
                cls_head=dict(type='MoViNetHead', num_classes=3,
                              in_channels=480, multi_class=multi_class,
                              average_clips='prob'))


def test_ensemble_members_must_agree_on_multi_label():
    with pytest.raises(ValueError, match='multi_class'):
        MODELS.build(dict(type='EnsembleRecognizer',
                          members=[member(True), member(False)],
                          input_keys=['a', 'b']))


def test_ensemble_averages_logits_then_sigmoid():
    ens = MODELS.build(dict(type='EnsembleRecognizer',
                            members=[member(True), member(True)],
                            input_keys=['a', 'b'])).eval()
    torch.manual_seed(0)
    for m in ens.members:
        torch.nn.init.normal_(m.cls_head.fc_cls.weight, std=1.0)
    x = {k: torch.randn(2, 1, 3, 4, 32, 32) for k in 'ab'}  # 1 view
    with torch.no_grad():
        logits = torch.stack(ens.member_logits(x)).mean(0)
        out = ens(x, samples([[0], [1, 2]]), mode='predict')
    for i, sample in enumerate(out):
        torch.testing.assert_close(sample.pred_score, logits[i].sigmoid())


# ----------------------------------------------------------- annotations
def build_dataset(tmp_path, lines, **kwargs):
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(f'{line}\n' for line in lines))
    return DATASETS.build(dict(type='VideoDataset', ann_file=str(ann),
                               pipeline=[], test_mode=True, **kwargs)), ann


def test_multi_label_list_gives_multi_hot_labels(tmp_path):
    dataset, _ = build_dataset(tmp_path, ['a.mp4 0 2', 'b.mp4 1'],
                               multi_class=True, num_classes=3)
    assert dataset.get_data_info(0)['label'].tolist() == [1., 0., 1.]
    assert dataset.get_data_info(1)['label'].tolist() == [0., 1., 0.]


def test_single_label_list_unchanged(tmp_path):
    dataset, _ = build_dataset(tmp_path, ['a.mp4 0', 'b.mp4 2', 'c.mp4'],
                               num_classes=3)
    assert [dataset.get_data_info(i)['label'] for i in range(3)] == \
        [0, 2, -1]


@pytest.mark.parametrize('lines, kwargs, match', [
    (['a.mp4 0', 'b.mp4 0 2'], {}, r'line 2: 2 labels \[0, 2\] but the '
     'dataset is single-label'),
    (['a.mp4 0', 'b.mp4 3'], dict(num_classes=3),
     r'line 2: label \[3\] out of range; expected labels in \[0, 3\)'),
    (['a.mp4 0 3'], dict(multi_class=True, num_classes=3),
     r'line 1: label \[3\] out of range'),
    (['a.mp4 -1 1'], dict(multi_class=True, num_classes=3),
     r'line 1: label \[-1\] out of range'),
    (['a.mp4 0 1', 'b.mp4'], dict(multi_class=True, num_classes=3),
     'line 2: no label; a multi-label list'),
    (['a.mp4 0 1'], dict(multi_class=True), 'needs num_classes'),
    (['a.mp4 x'], {}, 'line 1: labels must be integers'),
    (['a.mp4 0', ''], {}, 'line 2: empty line'),
])
def test_bad_annotation_lines_name_file_and_line(tmp_path, lines, kwargs,
                                                 match):
    with pytest.raises(AnnotationError, match=match) as info:
        build_dataset(tmp_path, lines, **kwargs)
    assert str(tmp_path / 'list.txt') in str(info.value)
    assert '\n' not in str(info.value)


def test_single_label_list_in_multi_label_config_warns(tmp_path):
    with pytest.warns(UserWarning, match='every line has exactly one label'):
        build_dataset(tmp_path, ['a.mp4 0', 'b.mp4 2'], multi_class=True,
                      num_classes=3)


def test_multi_label_training_step_and_sub_clips():
    """BCE through the recognizer, whole clips and stream sub-clips."""
    cfg = member(True)
    cfg['cls_head']['loss_cls'] = dict(type='BCELossWithLogits')
    model = MODELS.build(cfg)
    x = torch.randn(2, 3, 4, 32, 32)
    data = samples([[0, 2], [1]])
    losses = model(x[:, None], data, mode='loss')  # [N, views, ...]
    assert set(losses) == {'loss_cls'} and torch.isfinite(losses['loss_cls'])
    losses['loss_cls'].backward()
    assert model.cls_head.fc_cls.weight.grad.abs().sum() > 0
    sub, state = model(x[:, :, :2], data, mode='sub_clip_loss')
    assert torch.isfinite(sub['loss_cls']) and state
