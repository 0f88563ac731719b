# The official MoViNet Kinetics-600 schedule (tensorflow/models
# official/projects/movinet/configs/yaml/movinet_*_k600_8x8.yaml), the same
# for every model: RMSprop (rho 0.9, momentum 0.9, epsilon 1.0, clipnorm 1),
# cosine learning rate 1.8 at a global batch of 1024 over 85,785 steps with
# 2,145 linear warmup steps, L2 3e-5, label smoothing 0.1 (on the head).
#
# Steps -> epochs: TF's kinetics600 train split has 366,016 videos
# (official/vision/configs/video_classification.py), so
#   85,785 steps x 1024 / 366,016 = 240.0 epochs, warmup 2,145 x 1024 /
#   366,016 = 6.0 epochs.
# The schedule is expressed in epochs (updated every iteration) so that it
# stays the same whatever the batch size and the size of your copy of
# Kinetics-600 (downloads today usually have fewer videos).

# ---- learning rate ------------------------------------------------------
# lr 1.8 is for a total batch of 1024. `auto_scale_lr` rescales it linearly
# to the real total batch (GPUs x train_dataloader.batch_size) at the start
# of training, e.g. 8 GPUs x 16 videos -> 1.8 x 128 / 1024 = 0.225.
# It is enabled here (unlike MMAction2's configs, whose lr is written for
# their default batch) because no practical setup trains at 1024 and an
# unscaled lr of 1.8 at batch 128 would be 8x the official per-video rate;
# set `auto_scale_lr.enable=False` to use `lr` exactly as written.
auto_scale_lr = dict(enable=True, base_batch_size=1024)

max_epochs = 240
warmup_epochs = 6

param_scheduler = [
    # TF warms up linearly from 0; LinearLR needs a positive start factor.
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    # TF's cosine runs from step 0 and the warmup overrides its start; this
    # cosine starts after the warmup (a <0.2% difference in lr).
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]

# ---- optimizer ------------------------------------------------------------
# torch RMSprop `alpha` is TF's `rho`. Differences that remain: TF adds eps
# inside the square root (g / sqrt(ms + eps)) and keeps lr inside the
# momentum buffer; torch uses g / (sqrt(ms) + eps) and multiplies by lr
# after. With eps = 1.0 and clipped gradients (ms << 1) both are close to
# momentum SGD.
#
# Weight decay: the yaml's `l2_weight_decay: 3e-5` becomes
# `tf.keras.regularizers.l2(3e-5 / 2)` in the TF Model Garden video task
# ("divide weight decay by 2.0 to match the implementation of
# tf.nn.l2_loss"), i.e. a loss term 1.5e-5 * sum(w^2) whose gradient is
# 3e-5 * w. torch's coupled `weight_decay` adds weight_decay * w to the
# gradient, hence weight_decay=3e-5 (not 6e-5, which would hold had the
# loss been 3e-5 * sum(w^2)). TF regularises conv and dense kernels only:
# BN parameters, biases, the ReZero scales and the positional-encoding
# scales are not decayed.
optim_wrapper = dict(
    # Keras `clipnorm=1.0` clips the gradient of each variable to norm 1
    type='PerVariableClipOptimWrapper',
    constructor='MergedGroupsOptimWrapperConstructor',
    # Keras RMSprop: epsilon inside the square root and the lr applied
    # before the momentum buffer (torch.optim.RMSprop differs on both,
    # which matters with eps=1.0)
    optimizer=dict(
        type='TFRMSprop',
        lr=1.8,
        rho=0.9,
        eps=1.0,
        momentum=0.9,
        weight_decay=3e-5),
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={
            'rezero': dict(decay_mult=0.),
            'pos_encoding.scale': dict(decay_mult=0.),
        }),
    clip_grad=dict(max_norm=1.0, norm_type=2))

train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=1,
    val_interval=5)
# MMEngine's ValLoop/TestLoop, except that an unreadable video is logged,
# counted (acc/skipped_videos) and skipped (on_error='raise' stops instead).
val_cfg = dict(type='ClipValLoop', on_error='skip')
# Whole-clip, single-view test (the official protocol). A streaming test
# loop for the stream models (frame by frame with a state) can replace it.
test_cfg = dict(type='ClipTestLoop', on_error='skip')

# ---- batch norm ------------------------------------------------------------
# The official models train with synchronized BN (use_sync_bn: true) over the
# global batch; per-GPU batches of MoViNets are small. MMEngine converts the
# BN layers to torch SyncBatchNorm only in distributed runs.
sync_bn = 'torch'
