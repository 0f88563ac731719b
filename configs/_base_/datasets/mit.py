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
# is a 3-second clip. The loaders are those of kinetics600.py; the model
# configs set the pipelines.
_base_ = './kinetics600.py'

data_root = 'data/mit/videos/training'
data_root_val = 'data/mit/videos/validation'
ann_file_train = 'data/mit/mit_train_list_videos.txt'
ann_file_val = 'data/mit/mit_val_list_videos.txt'
ann_file_test = ann_file_val

train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root_val)))
test_dataloader = val_dataloader
