# Fine-tuning demo, step 1: pre-train MoViNet-A0-Stream on two of the four
# class pairs of the synthetic data (move right/left, move down/up), the
# stand-in for a Kinetics-600 checkpoint. Step 2 fine-tunes it on the other
# two pairs (synthetic_finetune_rotate_scale.py). Data (repository root):
#   python tools/data/generate_synthetic.py --out data/synthetic_finetune/pretrain \
#       --classes move_right move_left move_down move_up \
#       --train-per-class 150 --val-per-class 8 --test-per-class 25
# tools/analysis/finetune_comparison.py runs all of it.
_base_ = '../movinet_a0_stream_synthetic.py'

data_root = 'data/synthetic_finetune/pretrain'
max_epochs = 8  # of 38 iterations (600 clips, batch 16)

model = dict(cls_head=dict(num_classes=4))
train_dataloader = dict(dataset=dict(
    ann_file=f'{data_root}/train_list_videos.txt',
    data_prefix=dict(video=f'{data_root}/videos')))
val_dataloader = dict(dataset=dict(
    ann_file=f'{data_root}/val_list_videos.txt',
    data_prefix=dict(video=f'{data_root}/videos')))
test_dataloader = dict(dataset=dict(
    ann_file=f'{data_root}/test_list_videos.txt',
    data_prefix=dict(video=f'{data_root}/videos')))
train_cfg = dict(max_epochs=max_epochs, val_interval=4)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0,
         end=0.5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 0.5, eta_min=0,
         by_epoch=True, begin=0.5, end=max_epochs,
         convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1,
                                     save_best=None))
