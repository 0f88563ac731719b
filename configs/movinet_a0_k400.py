# MoViNet-A0 (base) on Kinetics-400 (400 classes): the recipe of
# movinet_a0_k600.py (clips, frame rate, schedule in epochs; no K400 training
# yaml is published) with the Kinetics-400 data. The official checkpoint
# movinet_a0_base_k400.tar.gz: 69.40 / 89.18 top-1 / top-5 (%), one view
# (tensorflow/models MoViNet README, commit 15762ae; convert it with
# tools/convert_tf_checkpoint.py ... --arch a0 --mode base).
#
# Data: Kinetics-400 videos in MMAction2's layout, relative to the working
# directory (docs/benchmarks.md):
#   data/kinetics400/kinetics400_train_list_videos.txt   "<path> <label>"
#   data/kinetics400/kinetics400_val_list_videos.txt
#   data/kinetics400/videos_train/   data/kinetics400/videos_val/
# Data elsewhere: --cfg-options data_root=DIR (the folder above).

_base_ = './movinet_a0_k600.py'

model = dict(cls_head=dict(num_classes=400))

# the K600 data base's loaders, pointed at kinetics400
data_root = 'data/kinetics400'
ann_file_train = f'{data_root}/kinetics400_train_list_videos.txt'
ann_file_val = f'{data_root}/kinetics400_val_list_videos.txt'
ann_file_test = ann_file_val
data_root_val = f'{data_root}/videos_val'
train_dataloader = dict(dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=f'{data_root}/videos_train')))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root_val)))
test_dataloader = val_dataloader
