# A temporal-ensemble member on the synthetic frame-order data: the demo's
# A0-Stream (configs/movinet_a0_stream_synthetic.py) at half its frame rate,
# every 4th frame instead of every other one, over the same duration
# (training windows of 6 frames instead of 12; 8 stream steps per 32-frame
# video instead of 16). Train two with different seeds; the ensemble
# (configs/movinet_a0_stream_synthetic_ensemble.py) feeds one the even and
# one the odd frames of the demo's grid (video frames 0, 4, 8, ... and
# 2, 6, 10, ...) and averages their logits.
#
#   python -m mim train movinet_mm configs/movinet_a0_stream_synthetic_halfrate.py \
#       --work-dir work_dirs/synthetic_halfrate_m0 --cfg-options randomness.seed=0
#   python -m mim train movinet_mm configs/movinet_a0_stream_synthetic_halfrate.py \
#       --work-dir work_dirs/synthetic_halfrate_m1 --cfg-options randomness.seed=1
# This config alone tests a member on the even frames.

_base_ = './movinet_a0_stream_synthetic.py'

clip_len = 6
frame_interval = 4
resolution = 40

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
val_pipeline = [
    dict(type='VideoInit', io_backend='disk'),
    dict(type='SampleAllFrames', frame_interval=frame_interval),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

stream_loop = dict(chunk_size=4, num_trace_points=8, on_error='skip')
val_cfg = dict(type='StreamValLoop', **stream_loop)
test_cfg = dict(type='StreamTestLoop', **stream_loop)
