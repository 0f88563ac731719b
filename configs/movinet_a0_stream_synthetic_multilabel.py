# MoViNet-A0-Stream trained from scratch on the multi-label synthetic data
# set: the demo (movinet_a0_stream_synthetic.py) with 1 to 3 objects per
# clip, each moving in its own quarter of the frame with its own motion
# class (all different); the labels of a clip are the set of its objects'
# classes (8 classes, sigmoid scores, binary cross-entropy, mAP).
#
# Data (64x64 clips of 32 frames, 1600 train / 64 val / 200 test clips):
#   python tools/data/generate_synthetic.py --multi-label \
#       --out data/synthetic_multilabel
# Everything else is the demo's recipe: random 12-frame windows resized to
# 40x40 for training, whole videos streamed in sub-clips of 8 frames for
# val/test (StreamValLoop / StreamTestLoop), AdamW, half an epoch of warm-up
# then cosine, 7 epochs of 100 iterations. What changes:
# VideoDataset(multi_class=True, num_classes=8) (annotation lines
# "<path> <label> <label> ..."), MoViNetHead(multi_class=True) with
# BCELossWithLogits, and AccMetric's mean_average_precision (the best
# checkpoint is kept by it). On a 2-core CPU shared with other jobs, run it
# with OMP_NUM_THREADS=1 (docs/benchmarks.md, "Multi-label demo").
#
# Usage (from the repository root):
#   python -m mim train movinet_mm configs/movinet_a0_stream_synthetic_multilabel.py
#   python -m mim test movinet_mm configs/movinet_a0_stream_synthetic_multilabel.py \
#       --checkpoint work_dirs/movinet_a0_stream_synthetic_multilabel/epoch_N.pth

_base_ = './movinet_a0_stream_synthetic.py'

data_root = 'data/synthetic_multilabel'
num_classes = 8

model = dict(
    cls_head=dict(
        num_classes=num_classes,
        multi_class=True,
        loss_cls=dict(type='BCELossWithLogits')))

multi_label = dict(multi_class=True, num_classes=num_classes)
train_dataloader = dict(
    dataset=dict(
        ann_file=f'{data_root}/train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        **multi_label))
val_dataloader = dict(
    dataset=dict(
        ann_file=f'{data_root}/val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        **multi_label))
test_dataloader = dict(
    dataset=dict(
        ann_file=f'{data_root}/test_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        **multi_label))

val_evaluator = dict(
    type='AccMetric', metric_list=('mean_average_precision', ))
test_evaluator = val_evaluator

default_hooks = dict(
    checkpoint=dict(save_best='acc/mean_average_precision', rule='greater'))
