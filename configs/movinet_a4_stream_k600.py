# MoViNet-A4-Stream on Kinetics-600: causal (2+1)D convs, causal 2plus3d
# squeeze-excitation with sine positional encoding, hard swish / hard sigmoid.
# After the official recipe (tensorflow/models
# official/projects/movinet/configs/yaml/movinet_a4_stream_k600_8x8.yaml).
# Official checkpoint: 81.49 / 95.66 top-1 / top-5 (%).
#
# Trained, like the official stream models, with conv_type '3d_2plus1d'
# (each (kt, kh, kw) conv as a (1, kh, kw) then a (kt, 1, 1) Conv3d). For
# frame-by-frame inference build the same model with conv_type '2plus1d' and
# load the weights through movinet_mm.models.convert_conv_type (same
# parameters, reshaped). The causal model's whole-clip logits equal those of
# streaming every frame of the clip, so val/test see the whole eval clip
# ("the total accumulated duration") in one forward.
#
# Same data, schedule and pipelines as movinet_a4_k600.py: 32 frames at
# stride 3, 290x290 crops for training; one 80-frame clip, short side
# 320, 290x290 centre crop for val/test. Batch: 8 GPUs x 1 video.
#
# Data: Kinetics-600 videos in MMAction2's layout, relative to the working
# directory (see configs/_base_/datasets/kinetics600.py):
#   data/kinetics600/kinetics600_train_list_videos.txt   "<path> <label>"
#   data/kinetics600/kinetics600_val_list_videos.txt
#   data/kinetics600/videos_train/   data/kinetics600/videos_val/
# Data elsewhere: --cfg-options train_dataloader.dataset.ann_file=...
#   train_dataloader.dataset.data_prefix.video=... (and val_/test_dataloader).

_base_ = './movinet_a4_k600.py'

model = dict(
    backbone=dict(
        causal=True,
        conv_type='3d_2plus1d',
        se_type='2plus3d',
        activation='hard_swish',
        gating_activation='hard_sigmoid',
        use_positional_encoding=True),
    cls_head=dict(
        dropout_ratio=0.5,
        # movinet_a4_stream_k600_8x8.yaml sets the classifier activation
        # to hard_swish (the other stream yamls keep swish)
        activation='hard_swish'))

train_dataloader = dict(batch_size=1)
