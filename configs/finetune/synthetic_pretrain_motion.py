# Fine-tuning demo, step 1: pre-train MoViNet-A0-Stream on two of the four
# class pairs of the synthetic data (move right/left, move down/up), the
# stand-in for a Kinetics-600 checkpoint. Step 2 fine-tunes it on the other
# two pairs (synthetic_finetune_rotate_scale.py). Small on purpose (40x40
# clips of 12 frames), so that all three trainings take minutes on a CPU.
# Data (repository root):
#   python tools/data/generate_synthetic.py --out data/synthetic_finetune/pretrain \
#       --classes move_right move_left move_down move_up \
#       --train-per-class 150 --val-per-class 8 --test-per-class 25
# tools/analysis/finetune_comparison.py runs all of it.
_base_ = '../movinet_a0_stream_synthetic.py'

data_root = 'data/synthetic_finetune/pretrain'
resolution = 40  # as the demo (32, a 1x1 final map, did not learn in 8 epochs)
clip_len = 12  # every other frame: 24 of the 32
frame_interval = 2
max_epochs = 8  # of 38 iterations (600 clips, batch 16)

model = dict(cls_head=dict(num_classes=4))
# movinet_mm's guarded reader, as the demo config: training skips a broken
# video with a line, the stream loops count it
train_pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(type='SampleFrames', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1),
    dict(type='VideoDecode', on_error='skip'),
    dict(type='RandomResizedCrop', area_range=(0.7, 1.0),
         aspect_ratio_range=(0.8, 1.25)),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# the whole video (16 frames), streamed
val_pipeline = [
    dict(type='VideoInit', io_backend='disk'),
    dict(type='SampleAllFrames', frame_interval=frame_interval),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(dataset=dict(
    ann_file=f'{data_root}/train_list_videos.txt',
    data_prefix=dict(video=f'{data_root}/videos'), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    ann_file=f'{data_root}/val_list_videos.txt',
    data_prefix=dict(video=f'{data_root}/videos'), pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(
    ann_file=f'{data_root}/test_list_videos.txt',
    data_prefix=dict(video=f'{data_root}/videos'), pipeline=val_pipeline))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0,
         end=0.5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 0.5, eta_min=0,
         by_epoch=True, begin=0.5, end=max_epochs,
         convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
