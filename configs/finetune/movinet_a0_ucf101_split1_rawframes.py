# movinet_a0_ucf101_split1.py on extracted frames (MMAction2's rawframes
# layout, tools/data/ucf101/extract_rgb_frames.sh):
#   data/ucf101/
#   ├── ucf101_train_split_1_rawframes.txt
#   │     # lines like "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01 120 0"
#   ├── ucf101_val_split_1_rawframes.txt
#   └── rawframes/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01/img_00001.jpg ...
# Outside configs/finetune/, inherit it rather than copy it:
#   _base_ = 'movinet_mm::finetune/movinet_a0_ucf101_split1_rawframes.py'
_base_ = './movinet_a0_ucf101_split1.py'

split = 1
data_root = 'data/ucf101/rawframes'
ann_file_train = f'data/ucf101/ucf101_train_split_{split}_rawframes.txt'
ann_file_val = f'data/ucf101/ucf101_val_split_{split}_rawframes.txt'
clip_len = 50
frame_interval = 5
resolution = 172
min_image_size = 192

train_pipeline = [
    dict(type='SampleFrames', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1),
    dict(type='RawFrameDecode'),
    dict(type='RandomResizedCrop', area_range=(0.08, 1.0),
         aspect_ratio_range=(0.5, 2.0)),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleFrames', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(-1, min_image_size)),
    dict(type='CenterCrop', crop_size=resolution),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
dataset = dict(type='RawframeDataset', filename_tmpl='img_{:05}.jpg')
train_dataloader = dict(dataset=dict(
    **dataset, ann_file=ann_file_train, data_prefix=dict(img=data_root),
    pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    **dataset, ann_file=ann_file_val, data_prefix=dict(img=data_root),
    pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(
    **dataset, ann_file=ann_file_val, data_prefix=dict(img=data_root),
    pipeline=val_pipeline))
