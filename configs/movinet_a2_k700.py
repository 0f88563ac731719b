# MoViNet-A2 (base) on Kinetics-700 (700 classes): the recipe of
# movinet_a2_k600.py (clips, frame rate, schedule in epochs; no Kinetics-700
# yaml is published) with the Kinetics-700 data. Reference accuracy: not
# published (the tensorflow/models README gives no Kinetics-700 figure and
# no Kinetics-700 checkpoint is released).
#
# Data: Kinetics-700 videos in MMAction2's layout, relative to the working
# directory (docs/benchmarks.md):
#   data/kinetics700/kinetics700_train_list_videos.txt   "<path> <label>"
#   data/kinetics700/kinetics700_val_list_videos.txt
#   data/kinetics700/videos_train/   data/kinetics700/videos_val/
# Data elsewhere: --cfg-options data_root=DIR (the folder above).

_base_ = './movinet_a2_k600.py'

model = dict(cls_head=dict(num_classes=700))

# the K600 data base's loaders, pointed at kinetics700
data_root = 'data/kinetics700'
ann_file_train = f'{data_root}/kinetics700_train_list_videos.txt'
ann_file_val = f'{data_root}/kinetics700_val_list_videos.txt'
ann_file_test = ann_file_val
data_root_val = f'{data_root}/videos_val'
train_dataloader = dict(dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=f'{data_root}/videos_train')))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root_val)))
test_dataloader = val_dataloader
