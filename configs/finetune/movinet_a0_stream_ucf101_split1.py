# Fine-tune MoViNet-A0-Stream on UCF101 split 1 from the official K600
# stream checkpoint (causal: use it online afterwards, tools/stream_demo.py):
#   python tools/convert_tf_checkpoint.py movinet_a0_stream.tar.gz \
#       checkpoints/movinet_a0_stream_k600_finetune.pth --arch a0 \
#       --mode stream --num-classes 101 --finetune
# Data and recipe: movinet_a0_ucf101_split1.py (the same settings, on the
# stream config, which trains with conv_type '3d_2plus1d').
# Outside configs/finetune/, inherit it rather than copy it:
#   _base_ = 'movinet_mm::finetune/movinet_a0_stream_ucf101_split1.py'
_base_ = '../movinet_a0_stream_k600.py'

split = 1
num_classes = 101
data_root = 'data/ucf101/videos'
ann_file_train = f'data/ucf101/ucf101_train_split_{split}_videos.txt'
ann_file_val = f'data/ucf101/ucf101_val_split_{split}_videos.txt'
max_epochs = 30
lr = 1e-3  # for a total batch of 64

load_from = 'checkpoints/movinet_a0_stream_k600_finetune.pth'
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
