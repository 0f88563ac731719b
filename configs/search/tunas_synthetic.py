# TuNAS search of a causal (stream) MoViNet on the synthetic frame-order data
# (tools/data/generate_synthetic.py; `make search-demo` generates a copy
# into data/synthetic_search). Run from the repository root:
#
#   python -m mim train movinet_mm configs/search/tunas_synthetic.py
#   python -m mim train movinet_mm configs/search/tunas_synthetic.py \
#       --cfg-options train_cfg.target_gmacs=0.0094       # another target
#   python -m mim train movinet_mm configs/search/tunas_synthetic.py --resume
#   python -m mim train movinet_mm configs/search/tunas_synthetic.py \
#       --launcher pytorch -G 2                           # 2 processes
#
# The space: the paper's choices (5 blocks, width multipliers {0.75, 1,
# 1.25}, 8 expansion ratios) but 3 of its 7 kernels, nested, on A0's
# widths as bases (stem 8;
# 8, 32, 56, 56, 104; projection 480), so that networks of a quarter of
# A0's cost exist; 1-4 layers per block (the paper's 1-10 make a supernet
# too slow for a CPU demo: set depths=tuple(range(1, 11)) for the full
# space); the input fixed at the demo's: 8 frames taken every 4th frame
# (the whole 32-frame video), 40x40, no crop (short runs learn faster
# without it).
# Each iteration: a shared-weight step (AdamW) on a training batch, then
# (from 70% of the iterations on) a controller step (REINFORCE, Adam beta1 =
# 0) on a held-out batch of the val split, reward top-1 + beta |MACs /
# target - 1|. The target defaults to
# half of MoViNet-A0-Stream's MACs at this input (0.0378 GMACs).
# Outputs in the work dir: searched_arch.json (the most likely
# architecture, its MACs), searched_config.py (trains it from scratch with
# configs/search/movinet_searched_synthetic.py's recipe), search_log.jsonl
# (per iteration: sampled cost, reward, entropy, most likely architecture).

default_scope = 'mmaction'
custom_imports = dict(imports=['movinet_mm', 'movinet_mm.search'],
                      allow_failed_imports=False)

data_root = 'data/synthetic_search'
num_classes = 8
frame_interval = 4  # 8 frames span the whole 32-frame video
search_space = dict(
    stem_base=8,
    block_bases=(8, 32, 56, 56, 104),
    project_base=480,
    head_channels=2048,
    depths=(1, 2, 3, 4),  # the paper's 1-10, cut for a CPU demo
    # three nested kernels (a spatial one and two spatiotemporal ones
    # sharing its taps), where the paper's seven separate ones kept the
    # shared weights at chance: SearchSpace's default KERNELS are the seven
    kernels=((1, 3, 3), (3, 3, 3), (5, 3, 3)),
    frames=(8, ),
    frame_strides=(1, ),
    resolutions=(40, ))
max_iters = 1500

model = dict(
    type='MoViNetSupernet',
    space=search_space,
    num_classes=num_classes,
    causal=True,  # conv_type '3d_2plus1d', se '2plus3d', hard swish
    norm_cfg=dict(eps=1e-3, momentum=0.1),
    dropout_ratio=0.2,
    # every kernel of a layer a crop of its largest (NestedDepthwise)
    kernel_sharing='nested')
# a sampled network uses a part of the weights: DDP must not wait for the rest
model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                         find_unused_parameters=True)

# movinet_mm's guarded reader (as the demo config): a broken video is
# skipped with a line and replaced by another (MMAction2's DecordInit
# segfaults the DataLoader worker on a truncated file)
pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(type='SampleFrames', clip_len=8, frame_interval=frame_interval,
         num_clips=1),
    dict(type='VideoDecode', on_error='skip'),
    dict(type='Resize', scale=(40, 40), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
held_out_pipeline = [
    dict(type='VideoInit', io_backend='disk', on_error='skip'),
    dict(type='SampleFrames', clip_len=8, frame_interval=frame_interval,
         num_clips=1, test_mode=True),
    dict(type='VideoDecode', on_error='skip'),
    dict(type='Resize', scale=(40, 40), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VideoDataset',
        ann_file=f'{data_root}/train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=pipeline))
controller_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VideoDataset',
        ann_file=f'{data_root}/val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=held_out_pipeline))

train_cfg = dict(
    type='TuNASSearchLoop',
    max_iters=max_iters,
    controller_dataloader=controller_dataloader,
    target_gmacs=0.0189,
    cost_beta=-0.5,
    controller_lr=0.1,
    controller_samples=2,  # architectures scored per held-out batch
    # the supernet first: the largest network (kernels sampled) for 40% of
    # the iterations, then sampled paths; the controller from 70% on, when
    # the shared weights rank paths (TuNAS waits 25%; this supernet leaves
    # chance later), and no held-out scoring before it
    warmup_ratio=0.7,
    largest_warmup=0.4,
    op_warmup=False,
    filter_warmup=False,
    score_during_warmup=False,
    cache_held_out=True,  # the 64 val clips, decoded once
    seed=0,
    train_config='configs/search/movinet_searched_synthetic.py')
val_cfg = None
val_dataloader = None
val_evaluator = None

optim_wrapper = dict(
    type='OptimWrapper',
    constructor='MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-3, betas=(0.9, 0.999),
                   weight_decay=0.01),
    # the residual scales start at 0 (as the official init); at the base lr
    # they take ~300 steps to open the blocks, the plateau every network
    # sat on: 20x lets a fixed network leave chance in ~100 steps
    paramwise_cfg=dict(
        custom_keys={'rezero': dict(lr_mult=20., decay_mult=0.)}),
    clip_grad=dict(max_norm=5.0, norm_type=2))
# 10% of the iterations of warm-up, then cosine to 0 at the last one. The
# floats are fractions of train_cfg.max_iters (TuNASSearchLoop makes them
# iterations when it is built), so the schedule follows
# --cfg-options train_cfg.max_iters=N; ints would be iterations.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=False, begin=0.0,
         end=0.1),
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=False, begin=0.1,
         end=1.0)
]

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=150,
                    max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))  # gloo on CPU (movinet_mm.compat)
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=False, deterministic=False)
