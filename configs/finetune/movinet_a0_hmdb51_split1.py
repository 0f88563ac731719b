# Fine-tune MoViNet-A0 (base) on HMDB51 split 1 (51 classes) from the
# official Kinetics-600 checkpoint:
#   python tools/convert_tf_checkpoint.py movinet_a0_base.tar.gz \
#       checkpoints/movinet_a0_k600_finetune51.pth --arch a0 --mode base \
#       --num-classes 51 --finetune
# Data, MMAction2's layout (tools/data/hmdb51/ in mmaction2):
#   data/hmdb51/
#   ├── hmdb51_train_split_1_videos.txt
#   │     # lines like "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi 0"
#   ├── hmdb51_val_split_1_videos.txt
#   └── videos/brush_hair/...
# Recipe: movinet_a0_ucf101_split1.py's. HMDB51 has ~70 training videos per
# class: freezing the stem and first blocks helps (frozen_stages=2).
# Outside configs/finetune/, inherit it rather than copy it:
#   _base_ = 'movinet_mm::finetune/movinet_a0_hmdb51_split1.py'
_base_ = './movinet_a0_ucf101_split1.py'

split = 1
num_classes = 51
data_root = 'data/hmdb51/videos'
ann_file_train = f'data/hmdb51/hmdb51_train_split_{split}_videos.txt'
ann_file_val = f'data/hmdb51/hmdb51_val_split_{split}_videos.txt'

load_from = 'checkpoints/movinet_a0_k600_finetune51.pth'
model = dict(backbone=dict(frozen_stages=2),
             cls_head=dict(num_classes=num_classes))
train_dataloader = dict(dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root)))
