# MoViNet-A0-Stream on Kinetics-600: causal (2+1)D convs, causal 2plus3d
# squeeze-excitation, hard swish / hard sigmoid.
# After the official recipe (tensorflow/models
# official/projects/movinet/configs/yaml/movinet_a0_stream_k600_8x8.yaml).
# Official checkpoint: 72.05 / 90.63 top-1 / top-5 (%).
#
# Trained, like the official stream models, with conv_type '3d_2plus1d'
# (each (kt, kh, kw) conv as a (1, kh, kw) then a (kt, 1, 1) Conv3d). For
# frame-by-frame inference build the same model with conv_type '2plus1d' and
# load the weights through movinet_mm.models.convert_conv_type (same
# parameters, reshaped). The causal model's whole-clip logits equal those of
# streaming every frame of the clip, so val/test see the whole eval clip
# ("the total accumulated duration") in one forward.
#
# Same data, schedule and pipelines as movinet_a0_k600.py: 50 frames at
# stride 5, 172x172 crops for training; one 50-frame clip, short side
# 192, 172x172 centre crop for val/test. Batch: 8 GPUs x 16 videos.
#
# Data: Kinetics-600 videos in MMAction2's layout, relative to the working
# directory (see configs/_base_/datasets/kinetics600.py):
#   data/kinetics600/kinetics600_train_list_videos.txt   "<path> <label>"
#   data/kinetics600/kinetics600_val_list_videos.txt
#   data/kinetics600/videos_train/   data/kinetics600/videos_val/
# Data elsewhere: --cfg-options train_dataloader.dataset.ann_file=...
#   train_dataloader.dataset.data_prefix.video=... (and val_/test_dataloader).

_base_ = './movinet_a0_k600.py'

model = dict(
    backbone=dict(
        causal=True,
        conv_type='3d_2plus1d',
        se_type='2plus3d',
        activation='hard_swish',
        gating_activation='hard_sigmoid',
        use_positional_encoding=False),
    cls_head=dict(dropout_ratio=0.2))

train_dataloader = dict(batch_size=16)
