# The temporal ensemble on the synthetic frame-order data: two half-rate
# A0-Stream members (configs/movinet_a0_stream_synthetic_halfrate.py,
# trained with seeds 0 and 1); member 0 sees the even and member 1 the odd
# frames of the demo's every-other-frame grid (video frames 0, 4, 8, ... and
# 2, 6, 10, ...), both from one decode of each video, streamed with their
# own state; their raw logits are averaged.
#
#   python tools/merge_ensemble_checkpoints.py \
#       work_dirs/synthetic_halfrate_m0/epoch_7.pth \
#       work_dirs/synthetic_halfrate_m1/epoch_7.pth \
#       --out work_dirs/synthetic_ensemble.pth \
#       --config configs/movinet_a0_stream_synthetic_ensemble.py
#   python -m mim test movinet_mm configs/movinet_a0_stream_synthetic_ensemble.py \
#       --checkpoint work_dirs/synthetic_ensemble.pth

_base_ = './movinet_a0_stream_synthetic_halfrate.py'

member = {{_base_.model}}
input_keys = ['imgs_even', 'imgs_odd']
model = dict(
    _delete_=True,
    type='EnsembleRecognizer',
    members=[member, member],
    input_keys=input_keys,
    member_checkpoints=None)

frame_interval = 4
resolution = 40


# One decode, two samplings: each KeyMapper branch samples its own frames
# from the shared decord reader and writes them under its input key.
even_frames = [
    dict(type='SampleAllFrames', frame_interval=frame_interval, offset=0),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
]
# the odd frames of the demo's grid: 2 video frames later
odd_frames = [
    dict(type='SampleAllFrames', frame_interval=frame_interval, offset=2)
] + even_frames[1:]
test_pipeline = [
    dict(type='VideoInit', io_backend='disk'),
    dict(type='KeyMapper', mapping=None, remapping=dict(imgs='imgs_even'),
         auto_remap=False, transforms=even_frames),
    dict(type='KeyMapper', mapping=None, remapping=dict(imgs='imgs_odd'),
         auto_remap=False, transforms=odd_frames),
    dict(type='PackActionInputs', collect_keys=('imgs_even', 'imgs_odd')),
]
val_pipeline = test_pipeline
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
