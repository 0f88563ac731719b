# MoViNet-A4 (base: non-causal 3D convs, 3D squeeze-excitation, swish) on
# Kinetics-400 (400 classes). The official checkpoint
# movinet_a4_base_k400.tar.gz: 80.64 / 94.93 top-1 / top-5 (%), one 80x290x290 clip
# (tensorflow/models MoViNet README, commit 15762ae; convert it with
# tools/convert_tf_checkpoint.py ... --arch a4 --mode base).
#
# Recipe: that of movinet_a4_k600.py (official/projects/movinet/
# configs/yaml/movinet_a4_k600_8x8.yaml), the same clips and
# frame rate; the official Kinetics-400 training yaml is not published
# with the checkpoints, so the schedule is the K600 one in epochs.
#
# Train: 32 frames at temporal stride 3, random-resized crop (area
#   0.08-1, aspect ratio 0.5-2) resized to 290x290, horizontal flip.
# Val/test: one clip of 80 frames at stride 3 (9.6 s at 25 fps) from the
#   middle of the video, short side resized to 320, 290x290 centre crop
#   (the official single-view protocol).
# Batch: 8 GPUs x 2 videos by default; the lr follows the real total batch
#   (auto_scale_lr, see _base_/schedules/movinet_rmsprop.py).
# Not reproduced from the official training: AutoAugment (aug_type autoaug)
#   and random temporal strides (random_stride_range); inputs are float32
#   instead of bfloat16.
#
# Data: Kinetics-400 videos in MMAction2's layout, relative to the working
# directory (see configs/_base_/datasets/kinetics400.py):
#   data/kinetics400/kinetics400_train_list_videos.txt   "<path> <label>"
#   data/kinetics400/kinetics400_val_list_videos.txt
#   data/kinetics400/videos_train/   data/kinetics400/videos_val/
# Data elsewhere: --cfg-options train_dataloader.dataset.ann_file=...
#   train_dataloader.dataset.data_prefix.video=... (and val_/test_dataloader).

_base_ = [
    './_base_/models/movinet.py', './_base_/datasets/kinetics400.py',
    './_base_/schedules/movinet_rmsprop.py', './_base_/default_runtime.py'
]

model = dict(
    backbone=dict(arch='a4'),
    cls_head=dict(
        num_classes=400,
        in_channels=856,
        hidden_channels=2048,
        dropout_ratio=0.5))

clip_len = 32
frame_interval = 3
eval_clip_len = 80
resolution = 290
min_image_size = 320  # short side before the test centre crop

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

train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))

default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
