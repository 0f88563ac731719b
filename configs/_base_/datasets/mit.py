# Moments in Time (v1, 339 classes) as videos, in MMAction2's layout
# (tools/data/mit/ in mmaction2; relative to the working directory, usually
# the repository root; `data/` may be a symlink):
#
#   data/mit/
#   ├── annotations/moments_categories.txt  # "<class name>,<label>" lines
#   ├── mit_train_list_videos.txt           # "<relative path> <label>"
#   ├── mit_val_list_videos.txt
#   └── videos/
#       ├── training/                       # e.g. yawning/_8zmP1e-EjU_2.mp4
#       └── validation/
#
# Labels are 0..338 as in moments_categories.txt (MMAction2's
# tools/data/mit/generate_videos_filelist.sh writes the lists). Every video
# is a 3-second clip. The model configs set the pipelines; only the data
# locations and loaders are shared here.
dataset_type = 'VideoDataset'
data_root = 'data/mit/videos/training'
data_root_val = 'data/mit/videos/validation'
ann_file_train = 'data/mit/mit_train_list_videos.txt'
ann_file_val = 'data/mit/mit_val_list_videos.txt'
ann_file_test = 'data/mit/mit_val_list_videos.txt'

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
