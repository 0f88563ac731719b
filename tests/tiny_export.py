"""A tiny causal MoViNet config and its ONNX stream export (seconds), for tool
tests that need an exported model but not a real one (int8, evaluation,
truncated videos, tool messages)."""
import os.path as osp

TINY_ARCH = dict(
    stem_channels=8,
    blocks=[dict(out_channels=16, layers=[(24, (3, 3, 3), (1, 2, 2)),
                                          (24, (3, 3, 3), (1, 1, 1))]),
            dict(out_channels=24, layers=[(48, (5, 3, 3), (1, 2, 2))])],
    project_channels=32, head_channels=48)

CONFIG = '''
model = dict(
    type='MoViNetRecognizer',
    backbone=dict(type='MoViNet', arch={arch!r}, causal=True,
                  conv_type='2plus1d', se_type='2plus3d',
                  activation='hard_swish', gating_activation='hard_sigmoid'),
    cls_head=dict(type='MoViNetHead', num_classes={num_classes},
                  in_channels=32, hidden_channels=48),
    data_preprocessor=dict(type='ActionDataPreprocessor',
                           mean=[114.75, 114.75, 114.75],
                           std=[57.375, 57.375, 57.375], format_shape='NCTHW'))
test_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleAllFrames', frame_interval=1),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
'''


def config_text(num_classes: int = 3) -> str:
    return CONFIG.format(arch=TINY_ARCH, num_classes=num_classes)


def tiny_config(root, num_classes: int = 3, extra: str = '') -> str:
    """Write the tiny config (plus ``extra`` lines) into ``root``."""
    path = osp.join(str(root), f'tiny_{num_classes}.py')
    with open(path, 'w') as f:
        f.write(config_text(num_classes) + extra)
    return path


def tiny_stream_export(root, num_classes: int = 3, seed: int = 3) -> str:
    """The tiny model with random weights, exported to ONNX (stream, 32x32)
    under ``root``; returns the model directory."""
    from mmengine.config import Config
    from mmengine.registry import MODELS

    from movinet_mm.deploy.export import export_model
    from movinet_mm.utils.random_weights import randomize_
    config = tiny_config(root, num_classes)
    cfg = Config.fromfile(config)
    model = randomize_(MODELS.build(cfg.model), seed=seed)
    return export_model(model, 'onnx', 'stream', (32, 32),
                        osp.join(str(root), f'onnx_{num_classes}'), cfg=cfg,
                        config_path=config)
