# Charades (v1, 157 action classes, MULTI-LABEL) as videos, in the layout of
# MMAction2's multi-label VideoDataset (relative to the working directory,
# usually the repository root; `data/` may be a symlink):
#
#   data/charades/
#   ├── charades_train_list_videos.txt   # "<relative path> <l1> <l2> ..."
#   ├── charades_val_list_videos.txt     #   e.g. "46GZI.mp4 3 92 147"
#   └── videos/                          # Charades_v1_480/*.mp4
#
# A video's labels are every class of its `actions` column in the official
# Charades_v1_{train,test}.csv ("c092 11.90 21.20;c147 0.00 12.60" -> 92
# 147), 0..156; docs/benchmarks.md has a script. VideoDataset(multi_class=
# True, num_classes=157) turns them into a multi-hot target. Videos without
# any action have no line. The loaders are those of kinetics600.py; the
# model configs set the pipelines.
_base_ = './kinetics600.py'

num_classes = 157
data_root = 'data/charades/videos'
data_root_val = data_root
ann_file_train = 'data/charades/charades_train_list_videos.txt'
ann_file_val = 'data/charades/charades_val_list_videos.txt'
ann_file_test = ann_file_val

train_dataloader = dict(dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=data_root),
    multi_class=True, num_classes=num_classes))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root_val),
    multi_class=True, num_classes=num_classes))
test_dataloader = val_dataloader

# mean average precision over the 157 classes (Charades' standard metric)
val_evaluator = dict(type='AccMetric', metric_list=('mean_average_precision', ))
test_evaluator = val_evaluator
