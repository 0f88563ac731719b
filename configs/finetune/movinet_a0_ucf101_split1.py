# Fine-tune MoViNet-A0 (base) on UCF101 split 1 from the official
# Kinetics-600 checkpoint, head replaced by a 101-class one.
#
# Weights (the classifier dropped: --finetune):
#   python tools/convert_tf_checkpoint.py movinet_a0_base.tar.gz \
#       checkpoints/movinet_a0_k600_finetune.pth --arch a0 --mode base \
#       --num-classes 101 --finetune
# or one of your own movinet_a0_k600.py checkpoints (load_from=...; its
# 600-class classifier does not fit and is left out, logged in one line).
#
# Data, MMAction2's layout (tools/data/ucf101/ in mmaction2 writes it):
#   data/ucf101/
#   ├── ucf101_train_split_1_videos.txt
#   │     # lines like "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 0"
#   ├── ucf101_val_split_1_videos.txt
#   └── videos/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi ...
# Rawframes instead: movinet_a0_ucf101_split1_rawframes.py.
#
# Recipe (a starting point, not tuned on UCF101): the K600 config's clips
# (50 frames at stride 5, the pre-training frame rate; shorter videos loop)
# and augmentation; AdamW lr 1e-3 for a total batch of 64 (scaled linearly
# to yours), weight decay 0.05 (none on ReZero scales), 2 warm-up epochs,
# cosine to 30 epochs; label smoothing 0.1. With few videos per class
# freeze the early blocks (model.backbone.frozen_stages=2: stem + blocks
# 0-1) and lower the lr.
#   python tools/train.py configs/finetune/movinet_a0_ucf101_split1.py
#   python tools/test.py configs/finetune/movinet_a0_ucf101_split1.py \
#       work_dirs/movinet_a0_ucf101_split1/epoch_30.pth
# Outside configs/finetune/, inherit it rather than copy it:
#   _base_ = 'movinet_mm::finetune/movinet_a0_ucf101_split1.py'
_base_ = '../movinet_a0_k600.py'

split = 1
num_classes = 101
data_root = 'data/ucf101/videos'
ann_file_train = f'data/ucf101/ucf101_train_split_{split}_videos.txt'
ann_file_val = f'data/ucf101/ucf101_val_split_{split}_videos.txt'
max_epochs = 30
lr = 1e-3  # for a total batch of 64

load_from = 'checkpoints/movinet_a0_k600_finetune.pth'
model = dict(
    backbone=dict(frozen_stages=-1),
    cls_head=dict(num_classes=num_classes))

train_dataloader = dict(dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root)))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_begin=1, val_interval=5)
auto_scale_lr = dict(enable=True, base_batch_size=64)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=lr, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'rezero': dict(decay_mult=0.)}),
    clip_grad=dict(max_norm=5.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 2, eta_min=0,
         by_epoch=True, begin=2, end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2,
                                     save_best='acc/top1', rule='greater'))
