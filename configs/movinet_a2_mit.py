# MoViNet-A2 (base: non-causal 3D convs, 3D squeeze-excitation, swish) on
# Moments in Time (v1, 339 classes; every video a 3-second clip).
# Reference accuracy: not published (the tensorflow/models README gives no
# Moments-in-Time figure and no Moments-in-Time checkpoint is released).
#
# Input: the A2 resolution (224x224) at the Kinetics frame rate of the A2
# recipe (temporal stride 5, i.e. 5 fps from 25 fps video): 15 frames = the
# whole 3-second clip, for training and for the single test view. The
# paper's exact Moments-in-Time clip settings are not in movinet_mm's
# reference notes; this is the K600 recipe fitted to 3-second videos.
# Train: random-resized crop (area 0.08-1, aspect ratio 0.5-2) resized to
#   224x224, horizontal flip. Val/test: short side 256, 224x224 centre crop.
# Schedule: the K600 one (_base_/schedules/movinet_rmsprop.py) in epochs;
#   MiT (~800k training videos) is about twice Kinetics-600, so fewer epochs
#   may do: --cfg-options train_cfg.max_epochs=... param_scheduler...
# Batch: 8 GPUs x 8 videos by default (auto_scale_lr).
#
# Data: Moments in Time in MMAction2's layout (configs/_base_/datasets/
# mit.py, docs/benchmarks.md):
#   data/mit/mit_train_list_videos.txt   "<path> <label>"
#   data/mit/mit_val_list_videos.txt
#   data/mit/videos/training/   data/mit/videos/validation/

_base_ = [
    './_base_/models/movinet.py', './_base_/datasets/mit.py',
    './_base_/schedules/movinet_rmsprop.py', './_base_/default_runtime.py'
]

model = dict(
    backbone=dict(arch='a2'),
    cls_head=dict(
        num_classes=339,
        in_channels=640,
        hidden_channels=2048,
        dropout_ratio=0.5))

clip_len = 15  # 3 s at stride 5 (25 fps); shorter videos loop
frame_interval = 5
eval_clip_len = 15
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
