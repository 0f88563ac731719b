# MoViNet-A0-Stream trained from scratch on the synthetic frame-order data
# set (tools/data/generate_synthetic.py): the whole plugin in minutes on a
# CPU, no Kinetics needed. `make demo` runs all of it.
#
# 8 classes in 4 time-reversed pairs (move left/right, up/down, rotate
# clockwise/counter-clockwise, approach/recede): the frames of a clip, as a
# set, look the same in both classes of a pair; only their order tells them
# apart. The control, configs/movinet_a0_stream_synthetic_shuffled.py,
# trains and tests the same model on shuffled frames.
#
# Data: 64x64 Motion-JPEG clips of 32 frames, read through the real video
# path (VideoDataset, decord, MMAction2 transforms), relative to the working
# directory (the repository root):
#   python tools/data/generate_synthetic.py --out data/synthetic
#
# Train: random windows of 12 frames taken every other frame (24 of the 32),
#   resized to 40x40; no flips (a mirror image would swap left/right and
#   clockwise/counter-clockwise). 1600 clips, batch 16, 7 epochs.
# Val/test: every other frame of each whole video (16 frames), streamed
#   through the causal model in sub-clips of 8 frames with its state
#   carried (StreamValLoop / StreamTestLoop), predicting after the last
#   frame; StreamEvalHook writes the early-recognition curve (accuracy vs.
#   fraction of the video seen) to the run's log dir as
#   stream_eval*.json/png.
# Schedule: AdamW, half an epoch of warm-up then cosine. The model is the
#   official A0-Stream (causal convs, 2plus3d SE, hard swish), trained from
#   scratch with its convs as '2plus1d' (Conv2d ops: the same parameters as
#   the '3d_2plus1d' the official stream models train with, and faster on
#   CPU), BN momentum 0.1 and no stochastic depth or label smoothing.
#
# Usage (from the repository root):
#   python -m mim train movinet_mm configs/movinet_a0_stream_synthetic.py
#   python -m mim test movinet_mm configs/movinet_a0_stream_synthetic.py \
#       --checkpoint work_dirs/movinet_a0_stream_synthetic/epoch_N.pth
#   # 2 processes on CPU (gloo, chosen automatically without CUDA)
#   python -m mim train movinet_mm configs/movinet_a0_stream_synthetic.py \
#       --launcher pytorch -G 2

_base_ = './movinet_a0_stream_k600.py'

data_root = 'data/synthetic'
num_classes = 8
resolution = 40  # network input; the videos are 64x64
clip_len = 12  # training window, in sampled frames
frame_interval = 2  # every other frame: 32-frame videos -> 16 steps
max_epochs = 7  # of 100 iterations (1600 clips, batch 16)

model = dict(
    backbone=dict(
        conv_type='2plus1d',
        drop_path_rate=0.0,
        # BN statistics that keep up with a short run (TF's 0.99 -> 0.9)
        norm_cfg=dict(type='BN3d', eps=1e-3, momentum=0.1)),
    cls_head=dict(
        num_classes=num_classes, label_smooth_eps=0.0, dropout_ratio=0.2))

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
        area_range=(0.7, 1.0),
        aspect_ratio_range=(0.8, 1.25)),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# the whole video, for the stream loops
val_pipeline = [
    dict(type='VideoInit', io_backend='disk'),
    dict(type='SampleAllFrames', frame_interval=frame_interval),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        ann_file=f'{data_root}/train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        ann_file=f'{data_root}/val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(
        ann_file=f'{data_root}/test_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=test_pipeline))

stream_loop = dict(chunk_size=8, num_trace_points=8, on_error='skip')
val_cfg = dict(type='StreamValLoop', **stream_loop)
test_cfg = dict(type='StreamTestLoop', **stream_loop)
custom_hooks = [dict(type='StreamEvalHook')]

train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=1,
    val_interval=3)

# AdamW, a warm-up of half an epoch, cosine decay to 0; the lr is used as
# written (no scaling to the batch). fused: torch's one-kernel AdamW (CPU
# and CUDA, torch >= 2.4), 5x faster than the per-tensor loop on the CPU;
# it runs once per parameter group, so the groups of equal options are
# merged (the default constructor makes one per parameter; for the same
# gradients the updates are the same to the bit).
auto_scale_lr = dict(enable=False, base_batch_size=16)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-3, betas=(0.9, 0.999),
                   weight_decay=0.05, fused=True),
    paramwise_cfg=dict(custom_keys={'rezero': dict(decay_mult=0.)}),
    clip_grad=dict(max_norm=5.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0,
         end=0.5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 0.5, eta_min=0,
         by_epoch=True, begin=0.5, end=max_epochs,
         convert_to_iter_based=True)
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='acc/top1', rule='greater'))
# one seed for the whole run (data order, augmentation, initial weights)
randomness = dict(seed=0, diff_rank_seed=False, deterministic=False)
