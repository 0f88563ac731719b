"""Shared test helpers: paths, tools, model configs and non-trivial random weights."""
import importlib.util
import os.path as osp

from mmaction.registry import MODELS

from movinet_mm.models import ARCH_SPECS
from movinet_mm.utils.random_weights import randomize_  # noqa: F401

TESTS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TESTS)


def load_tool(path: str):
    """A tool script (``tools/...py``, relative to the repository) as a module."""
    spec = importlib.util.spec_from_file_location(
        'tool_' + path.replace('/', '_')[:-3], osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STREAM_ARCHS = ('a0', 'a1', 'a2', 'a3', 'a4', 'a5')


def backbone_cfg(arch: str, stream: bool, conv_type: str = '2plus1d') -> dict:
    if not stream:
        return dict(type='MoViNet', arch=arch)
    return dict(
        type='MoViNet',
        arch=arch,
        causal=True,
        conv_type=conv_type,
        se_type='2plus3d',
        activation='hard_swish',
        gating_activation='hard_sigmoid',
        use_positional_encoding=arch in ('a3', 'a4', 'a5'))


def build_recognizer(arch: str = 'a0', stream: bool = True,
                     conv_type: str = '2plus1d', num_classes: int = 600,
                     **backbone_overrides):
    spec = ARCH_SPECS[arch]
    backbone = backbone_cfg(arch, stream, conv_type)
    backbone.update(backbone_overrides)
    return MODELS.build(
        dict(
            type='MoViNetRecognizer',
            backbone=backbone,
            cls_head=dict(
                type='MoViNetHead',
                num_classes=num_classes,
                in_channels=spec.project_channels,
                hidden_channels=spec.head_channels)))


