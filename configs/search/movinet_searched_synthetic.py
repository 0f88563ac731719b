# Train a searched architecture from scratch on the synthetic data: the
# recipe of configs/movinet_a0_stream_synthetic.py (AdamW, cosine; BN
# momentum 0.1) on 8-frame clips taken every 4th frame (the whole 32-frame
# video) at 40x40, no crop, 6 epochs at batch 8 (the search demo's
# setting), a stream test of each whole video, with the network read from
# a search's searched_arch.json (SearchedMoViNetRecognizer; a missing file
# is a clear error). The search also writes a ready config with the network
# inline (MoViNet(arch=dict(...))) and its input: <work_dir>/searched_config.py.
#
#   python -m mim train movinet_mm configs/search/tunas_synthetic.py \
#       --work-dir work_dirs/search_synthetic
#   python -m mim train movinet_mm configs/search/movinet_searched_synthetic.py
#   python -m mim train movinet_mm work_dirs/search_synthetic/searched_config.py

_base_ = '../movinet_a0_stream_synthetic.py'
custom_imports = dict(imports=['movinet_mm', 'movinet_mm.search'],
                      allow_failed_imports=False)

data_root = 'data/synthetic_search'
max_epochs = 6
frame_interval = 4  # 8 frames span the whole 32-frame video

model = dict(
    _delete_=True,
    type='SearchedMoViNetRecognizer',
    arch_file='work_dirs/search_synthetic/searched_arch.json')

train_pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(type='SampleFrames', clip_len=8, frame_interval=frame_interval,
         num_clips=1),
    dict(type='VideoDecode', on_error='skip'),
    dict(type='Resize', scale=(40, 40), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    dataset=dict(
        ann_file=f'{data_root}/train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
# the whole video (8 frames), streamed
test_pipeline = [
    dict(type='VideoInit', io_backend='disk'),
    dict(type='SampleAllFrames', frame_interval=frame_interval),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(40, 40), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_dataloader = dict(
    dataset=dict(
        pipeline=test_pipeline,
        ann_file=f'{data_root}/test_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos')))

# no validation during these short runs: the test split decides
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_begin=max_epochs + 1, val_interval=max_epochs + 1)
val_cfg = None
val_dataloader = None
val_evaluator = None
custom_hooks = []
# the residual scales (zero-initialised) learn 20x faster: as the search's
# supernet, so that 6 epochs leave the chance plateau every time
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'rezero': dict(lr_mult=20., decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0,
         end=0.5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 0.5, eta_min=0,
         by_epoch=True, begin=0.5, end=max_epochs,
         convert_to_iter_based=True)
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best=None))
