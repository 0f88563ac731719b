# Control for configs/movinet_a0_stream_synthetic.py: the same model, data
# and schedule, but every clip's frames are shuffled (ShuffleFrames) in
# training, validation and test. The frames a model sees are unchanged;
# only their order is gone. On the synthetic data set the two classes of a
# pair (e.g. move_left / move_right) are time-reversed twins, so without
# order the model can still find the pair but not the direction: accuracy
# within each pair stays near 50%, overall near 4/8 (the demo model, on
# ordered frames, is above 90%). Test clips are shuffled with a fixed seed
# (the same permutation of a video in every run).
#
#   python -m mim train movinet_mm configs/movinet_a0_stream_synthetic_shuffled.py
#   python -m mim test movinet_mm configs/movinet_a0_stream_synthetic_shuffled.py \
#       --checkpoint work_dirs/movinet_a0_stream_synthetic_shuffled/epoch_N.pth \
#       --dump work_dirs/movinet_a0_stream_synthetic_shuffled/test.pkl
#   python tools/data/synthetic_report.py \
#       work_dirs/movinet_a0_stream_synthetic_shuffled/test.pkl

_base_ = './movinet_a0_stream_synthetic.py'

resolution = 40
clip_len = 12
frame_interval = 2

train_pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(
        type='SampleFrames',
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1),
    dict(type='ShuffleFrames'),
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
    dict(type='ShuffleFrames', seed=0),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
