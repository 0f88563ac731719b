# MoViNet-A2-Stream temporal ensemble (the MoViNet paper's recipe): two
# A2-Stream models trained independently at half the frame rate
# (configs/movinet_a2_stream_k600_halfrate.py); at test time member 0 sees
# the even and member 1 the odd frames of the 5 fps grid, from one decode of
# each video, and their raw logits are averaged before the softmax. The
# pair costs about what one full-rate model costs
# (python tools/analysis/get_flops.py configs/movinet_a2_stream_ensemble_k600.py).
#
# Weights: either merge the members' checkpoints
#   python tools/merge_ensemble_checkpoints.py M0.pth M1.pth \
#       --out work_dirs/a2_ensemble.pth \
#       --config configs/movinet_a2_stream_ensemble_k600.py
#   python -m mim test movinet_mm configs/movinet_a2_stream_ensemble_k600.py \
#       --checkpoint work_dirs/a2_ensemble.pth
# or name them in the config:
#   --cfg-options model.member_checkpoints="['M0.pth','M1.pth']"
# Streaming evaluation: --cfg-options test_cfg.type=StreamTestLoop
# (with SampleAllFrames instead of SampleFrames in both branches).

_base_ = './movinet_a2_stream_k600_halfrate.py'

member = {{_base_.model}}
input_keys = ['imgs_even', 'imgs_odd']
model = dict(
    _delete_=True,
    type='EnsembleRecognizer',
    members=[member, member],
    input_keys=input_keys,
    member_checkpoints=None)

clip_len = 25
frame_interval = 10
resolution = 224
min_image_size = 256


# One decode, two samplings: each KeyMapper branch samples and crops its own
# clip from the shared decord reader and writes it under its input key.
even_frames = [
    dict(type='SampleFrames', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1, test_mode=True),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(-1, min_image_size)),
    dict(type='CenterCrop', crop_size=resolution),
    dict(type='FormatShape', input_format='NCTHW'),
]
# the odd frames: one 5 fps frame (half a stride) later
odd_frames = even_frames[:1] + [
    dict(type='ShiftFrameIndices', offset=frame_interval // 2)
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
