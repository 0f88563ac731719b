# MoViNet recognizer skeleton: MoViNet-A0 base (non-causal, 3D convs, 3D SE,
# swish) with the official 600-class classifier head. The model configs
# override `arch`, the head's `in_channels` (= the arch's project channels:
# a0 480, a1 600, a2 640, a3 744, a4 856, a5 992, t0 240), `hidden_channels`
# (2048; t0 1024) and `dropout_ratio`, and the stream settings.
model = dict(
    type='MoViNetRecognizer',
    backbone=dict(
        type='MoViNet',
        arch='a0',
        causal=False,
        conv_type='3d',
        se_type='3d',
        activation='swish',
        gating_activation='sigmoid',
        use_positional_encoding=False,
        # stochastic depth: layer n of N drops its residual branch with
        # probability 0.2 * n / N (official stochastic_depth_drop_rate 0.2)
        drop_path_rate=0.2,
        # TF BatchNormalization(momentum=0.99, epsilon=1e-3)
        norm_cfg=dict(type='BN3d', eps=1e-3, momentum=0.01),
        frozen_stages=-1,
        norm_eval=False,
        with_cp=False),
    cls_head=dict(
        type='MoViNetHead',
        num_classes=600,
        in_channels=480,
        hidden_channels=2048,
        dropout_ratio=0.2,
        activation='swish',
        loss_cls=dict(type='CrossEntropyLoss'),
        label_smooth_eps=0.1,
        average_clips='prob'),
    # MoViNets take RGB in [0, 1] with no mean subtraction (the official
    # loader divides by 255, zero_centering_image=False). DecordDecode gives
    # RGB frames already, so no channel swap.
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        format_shape='NCTHW'))
