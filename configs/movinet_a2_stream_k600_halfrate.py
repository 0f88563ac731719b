# An ensemble member: MoViNet-A2-Stream at half the frame rate (2.5 fps:
# temporal stride 10, 25 frames = the same 10 s as the full-rate 50 frames at
# stride 5). The MoViNet paper's temporal ensemble trains two such models
# independently and averages their logits at test time, one fed the even
# frames and one the odd frames of the 5 fps grid
# (configs/movinet_a2_stream_ensemble_k600.py).
#
# Train the two members with different seeds and work dirs, e.g.:
#   python -m mim train movinet_mm configs/movinet_a2_stream_k600_halfrate.py \
#       --work-dir work_dirs/a2_halfrate_m0 --cfg-options randomness.seed=0
#   ... --work-dir work_dirs/a2_halfrate_m1 --cfg-options randomness.seed=1
# This config alone tests a member on the even frames.

_base_ = './movinet_a2_stream_k600.py'

clip_len = 25
frame_interval = 10
resolution = 224
min_image_size = 256

train_pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(type='SampleFrames', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1),
    dict(type='VideoDecode', on_error='skip'),
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0),
         aspect_ratio_range=(0.5, 2.0)),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='VideoInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1, test_mode=True),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(-1, min_image_size)),
    dict(type='CenterCrop', crop_size=resolution),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
