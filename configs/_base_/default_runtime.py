# Runtime defaults of movinet_mm configs, after MMAction2's
# configs/_base_/default_runtime.py.
default_scope = 'mmaction'

# Imported when the config is parsed (mmengine Config.fromfile): registers
# MoViNet, MoViNetHead and MoViNetRecognizer in MMAction2's registries and
# applies movinet_mm's compatibility fixes. This is what lets these configs
# run from any MMAction2 checkout's tools/train.py / tools/test.py or
# `mim train mmaction <config>`, as well as from movinet_mm's own tools.
custom_imports = dict(imports=['movinet_mm'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'nccl' for GPUs, as in MMAction2. Where NCCL is unavailable (e.g.
    # Windows) use `--cfg-options env_cfg.dist_cfg.backend=gloo`. Note that
    # MMEngine 0.10's launchers (pytorch, slurm, mpi) call
    # torch.cuda.set_device and give DDP CUDA device ids, so distributed
    # runs need GPUs whatever the backend; CPU runs are single-process.
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
