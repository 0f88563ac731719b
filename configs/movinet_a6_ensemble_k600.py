# MoViNet-A6: the official README describes it as an ensemble of MoViNet-A4
# and MoViNet-A5 (official figure: 84.8% top-1 on Kinetics-600). Each member
# sees its own clip of the same video, as it was trained: A4 80 frames at
# stride 3, centre 290x290 of a 320 short side; A5 120 frames at stride 2,
# centre 320x320 of a 368 short side. Their raw logits are averaged.
#
# Members are the base models of configs/movinet_a4_k600.py and
# configs/movinet_a5_k600.py; with converted official weights:
#   python -m mim test movinet_mm configs/movinet_a6_ensemble_k600.py \
#       --cfg-options model.member_checkpoints="['a4.pth','a5.pth']"
# or merge them with tools/merge_ensemble_checkpoints.py.

_base_ = [
    './_base_/datasets/kinetics600.py', './_base_/default_runtime.py'
]

a4 = dict(
    type='MoViNetRecognizer',
    backbone=dict(type='MoViNet', arch='a4'),
    cls_head=dict(type='MoViNetHead', num_classes=600, in_channels=856,
                  average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[0., 0., 0.],
                           std=[255., 255., 255.], format_shape='NCTHW'))
a5 = dict(a4, backbone=dict(type='MoViNet', arch='a5'),
          cls_head=dict(type='MoViNetHead', num_classes=600, in_channels=992,
                        average_clips='prob'))
model = dict(
    type='EnsembleRecognizer',
    members=[a4, a5],
    input_keys=['imgs_a4', 'imgs_a5'],
    member_checkpoints=None)


def _clip(frames, stride, short_side, crop):
    return [
        dict(type='SampleFrames', clip_len=frames, frame_interval=stride,
             num_clips=1, test_mode=True),
        dict(type='VideoDecode'),
        dict(type='Resize', scale=(-1, short_side)),
        dict(type='CenterCrop', crop_size=crop),
        dict(type='FormatShape', input_format='NCTHW'),
    ]


test_pipeline = [
    dict(type='VideoInit', io_backend='disk'),
    dict(type='KeyMapper', mapping=None, remapping=dict(imgs='imgs_a4'),
         auto_remap=False, transforms=_clip(80, 3, 320, 290)),
    dict(type='KeyMapper', mapping=None, remapping=dict(imgs='imgs_a5'),
         auto_remap=False, transforms=_clip(120, 2, 368, 320)),
    dict(type='PackActionInputs', collect_keys=('imgs_a4', 'imgs_a5')),
]
val_pipeline = test_pipeline
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
train_dataloader = None
val_cfg = dict(type='ClipValLoop')
test_cfg = dict(type='ClipTestLoop')
