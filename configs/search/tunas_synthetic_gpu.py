# The search demo's TuNAS search at the paper's scale of the space, for one
# CUDA GPU (tools/search/gpu_search.py runs it): 1-10 layers per block and
# 172x172 input (the synthetic videos are upsampled), larger batches, more
# iterations. Everything else as configs/search/tunas_synthetic.py.
#
#   python tools/search/gpu_search.py               # needs a CUDA GPU
#   python -m mim train movinet_mm configs/search/tunas_synthetic_gpu.py

_base_ = './tunas_synthetic.py'

resolution = 172
search_space = dict(depths=tuple(range(1, 11)), resolutions=(resolution, ))
max_iters = 1500

model = dict(space=search_space)
pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(type='SampleFrames', clip_len=8, frame_interval=4, num_clips=1),
    dict(type='VideoDecode', on_error='skip'),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
held_out_pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(type='SampleFrames', clip_len=8, frame_interval=4, num_clips=1,
         test_mode=True),
    dict(type='VideoDecode', on_error='skip'),
    dict(type='Resize', scale=(resolution, resolution), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(batch_size=32, num_workers=8,
                        dataset=dict(pipeline=pipeline))
controller_dataloader = dict(batch_size=64, num_workers=4,
                             dataset=dict(pipeline=held_out_pipeline))
train_cfg = dict(max_iters=max_iters,
                 controller_dataloader=controller_dataloader)
