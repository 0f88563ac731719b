# Fine-tuning demo, step 2: fine-tune the model pre-trained on the motion
# pairs (synthetic_pretrain_motion.py) on the two other pairs (rotate
# clockwise/counter-clockwise, approach/recede) from few clips per class.
# The head (cls_head.fc_cls) is replaced: the checkpoint's 4 motion classes
# do not load into the new 4-class classifier by name alone, so load_from
# loads everything else and says so in one line; here the classifier is
# dropped explicitly (tools/analysis/finetune_comparison.py writes the
# backbone-only checkpoint, as `convert_tf_checkpoint.py --finetune` does).
# Data (repository root):
#   python tools/data/generate_synthetic.py --out data/synthetic_finetune/target \
#       --classes rotate_clockwise rotate_counterclockwise approach recede \
#       --train-per-class 10 --val-per-class 8 --test-per-class 25
# From scratch, for comparison: synthetic_scratch_rotate_scale.py.
_base_ = './synthetic_pretrain_motion.py'

data_root = 'data/synthetic_finetune/target'
max_epochs = 15  # of 5 iterations (40 clips, batch 8)
lr = 1e-3

load_from = 'work_dirs/synthetic_pretrain_motion/backbone.pth'
model = dict(
    backbone=dict(frozen_stages=-1),  # 0..5 freezes the stem and blocks
    cls_head=dict(num_classes=4))
train_dataloader = dict(
    batch_size=8,
    dataset=dict(ann_file=f'{data_root}/train_list_videos.txt',
                 data_prefix=dict(video=f'{data_root}/videos')))
# the pipelines (32x32 clips of 8 frames; whole videos streamed for val and
# test) are the pre-training config's
val_dataloader = dict(dataset=dict(
    ann_file=f'{data_root}/val_list_videos.txt',
    data_prefix=dict(video=f'{data_root}/videos')))
test_dataloader = dict(dataset=dict(
    ann_file=f'{data_root}/test_list_videos.txt',
    data_prefix=dict(video=f'{data_root}/videos')))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0,
         end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 2, eta_min=0,
         by_epoch=True, begin=2, end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
