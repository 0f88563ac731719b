# Kinetics-700 as videos, in MMAction2's layout (relative to the working
# directory, usually the repository root; `data/` may be a symlink):
#
#   data/kinetics700/
#   ├── kinetics700_train_list_videos.txt   # "<relative path> <label>" lines
#   ├── kinetics700_val_list_videos.txt
#   ├── videos_train/                       # e.g. abseiling/xxxx.mp4
#   └── videos_val/
#
# Labels are 0..699 in the order of the sorted class names (MMAction2's
# tools/data/kinetics scripts write these files). The model configs set the
# pipelines; only the data locations and loaders are shared here.
dataset_type = 'VideoDataset'
data_root = 'data/kinetics700/videos_train'
data_root_val = 'data/kinetics700/videos_val'
ann_file_train = 'data/kinetics700/kinetics700_train_list_videos.txt'
ann_file_val = 'data/kinetics700/kinetics700_val_list_videos.txt'
ann_file_test = 'data/kinetics700/kinetics700_val_list_videos.txt'

file_client_args = dict(io_backend='disk')

train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=[]))  # set by each model config

val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        pipeline=[],  # set by each model config
        test_mode=True))

test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root_val),
        pipeline=[],  # set by each model config
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
