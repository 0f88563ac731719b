# Fine-tune MoViNet-A0-Stream on HMDB51 split 1 from the official K600
# stream checkpoint:
#   python tools/convert_tf_checkpoint.py movinet_a0_stream.tar.gz \
#       checkpoints/movinet_a0_stream_k600_finetune51.pth --arch a0 \
#       --mode stream --num-classes 51 --finetune
# Data and recipe: movinet_a0_hmdb51_split1.py.
# Outside configs/finetune/, inherit it rather than copy it:
#   _base_ = 'movinet_mm::finetune/movinet_a0_stream_hmdb51_split1.py'
_base_ = './movinet_a0_stream_ucf101_split1.py'

split = 1
num_classes = 51
data_root = 'data/hmdb51/videos'
ann_file_train = f'data/hmdb51/hmdb51_train_split_{split}_videos.txt'
ann_file_val = f'data/hmdb51/hmdb51_val_split_{split}_videos.txt'

load_from = 'checkpoints/movinet_a0_stream_k600_finetune51.pth'
model = dict(backbone=dict(frozen_stages=2),
             cls_head=dict(num_classes=num_classes))
train_dataloader = dict(dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root)))
