# MoViNet-A2 (base: non-causal 3D convs, 3D squeeze-excitation, swish) on
# Charades (v1, 157 classes, MULTI-LABEL: a video has every action it shows).
# Reference: 32.5 mAP for MoViNet-A2 (the paper, as listed by Papers with
# Code); no Charades checkpoint is released.
#
# Multi-label: VideoDataset(multi_class=True, num_classes=157) reads
# "<path> <l1> <l2> ..." lines into multi-hot targets, MoViNetHead(
# multi_class=True) trains with a per-class sigmoid (BCELossWithLogits) and
# scores with sigmoids, and the metric is the mean average precision.
# No label smoothing (the K600 recipe's 0.1 is for softmax targets).
#
# Input: the A2 resolution (224x224) and frame rate of the A2 recipe
# (temporal stride 5, 5 fps from 25 fps video; Charades videos are ~30 s):
# 50 frames for training (a random 10-s clip) and for the single test view
# (the middle of the video). The paper's exact Charades clip settings are
# not in movinet_mm's reference notes; this is the K600 recipe.
# Fine-tuning from Kinetics-600 weights is the usual start: convert
# movinet_a2_base.tar.gz with --num-classes 157 --finetune and set
# load_from (see configs/README.md, Fine-tune).
# Schedule: the K600 one (_base_/schedules/movinet_rmsprop.py) in epochs.
# Batch: 8 GPUs x 8 videos by default (auto_scale_lr).
#
# Data: configs/_base_/datasets/charades.py, docs/benchmarks.md:
#   data/charades/charades_train_list_videos.txt   "<path> <l1> <l2> ..."
#   data/charades/charades_val_list_videos.txt
#   data/charades/videos/

_base_ = [
    './_base_/models/movinet.py', './_base_/datasets/charades.py',
    './_base_/schedules/movinet_rmsprop.py', './_base_/default_runtime.py'
]

model = dict(
    backbone=dict(arch='a2'),
    cls_head=dict(
        num_classes=157,
        in_channels=640,
        hidden_channels=2048,
        dropout_ratio=0.5,
        multi_class=True,
        loss_cls=dict(type='BCELossWithLogits'),
        label_smooth_eps=0.,
        # sigmoid of the mean logits of the views (one view here)
        average_clips='score'))

clip_len = 50
frame_interval = 5
eval_clip_len = 50
resolution = 224
min_image_size = 256  # short side before the test centre crop

train_pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(
        type='SampleFrames',
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1),
    dict(type='VideoDecode', on_error='skip'),
    dict(
        type='RandomResizedCrop',
        area_range=(0.08, 1.0),
        aspect_ratio_range=(0.5, 2.0)),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='VideoInit', io_backend='disk'),
    dict(
        type='SampleFrames',
        clip_len=eval_clip_len,
        frame_interval=frame_interval,
        num_clips=1,
        test_mode=True),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(-1, min_image_size)),
    dict(type='CenterCrop', crop_size=resolution),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))

default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
