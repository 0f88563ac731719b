"""The networks hold no CPU-only assumption: built on the ``meta`` device
(tensors without data, so no arithmetic runs), a forward and backward mixes
no CPU tensor into the computation. This stands in for a CUDA run where no
GPU is lent: an elementwise op or a concat of a CPU tensor with a meta one
fails as it would with a CUDA one, and the layers take the device-generic
ops (the channels-last fast form is for CPU tensors only)."""
import os.path as osp
import random

import pytest
import torch
from helpers import REPO
from mmengine.config import Config

import movinet_mm  # noqa: F401
from movinet_mm.search.supernet import MoViNetSupernet

META = torch.device('meta')
SPACE = dict(stem_base=8, block_bases=(8, 16, 24, 24, 32), project_base=32,
             head_channels=64, depths=(1, 2, 3), frames=(4, 6),
             frame_strides=(1, 2), resolutions=(32, 40))


def build(cfg):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    return MODELS.build(cfg)


def on_meta(model):
    return model.to(META)


def grads_on_meta(model) -> int:
    """How many parameters got a gradient; every gradient is on meta."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert all(g.device == META for g in grads)
    return len(grads)


@pytest.mark.parametrize('causal', [False, True], ids=['base', 'causal'])
@pytest.mark.parametrize('sharing', ['separate', 'nested'])
def test_supernet_trains_on_another_device(causal, sharing):
    supernet = on_meta(MoViNetSupernet(space=SPACE, num_classes=5,
                                       causal=causal, kernel_sharing=sharing))
    supernet.train()
    x = torch.randn(2, 3, 12, 44, 44, device=META)  # resized to 32 or 40
    arch = supernet.space.sample(random.Random(3))
    for all_ops in (True, False):  # the op warm-up, then one sampled path
        supernet.zero_grad()
        supernet.set_architecture(arch, all_ops=all_ops)
        logits = supernet.logits(x)
        assert logits.device == META and logits.shape == (2, 5)
        logits.sum().backward()
        assert grads_on_meta(supernet) > 0


@pytest.mark.parametrize('config', [
    'configs/movinet_a0_stream_synthetic.py', 'configs/movinet_a0_k600.py',
    'configs/movinet_a2_charades.py'])
def test_recognizer_trains_on_another_device(config):
    cfg = Config.fromfile(osp.join(REPO, config))
    model = on_meta(build(cfg.model)).train()
    num_classes = cfg.model.cls_head.num_classes
    x = torch.randn(2, 1, 3, 8, 40, 40, device=META)  # [N, clips, ...]
    scores = model.cls_head(model.extract_feat(x)[0])
    assert scores.device == META and scores.shape == (2, num_classes)
    scores.sum().backward()
    assert grads_on_meta(model) == sum(1 for _ in model.parameters())


def test_stream_step_on_another_device():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/movinet_a0_stream_synthetic.py'))
    model = on_meta(build(cfg.model))
    frame = torch.randn(2, 3, 1, 40, 40, device=META)
    # sub-clip training: gradients through two steps and the state
    model.train()
    logits, state = model.stream_step(frame)  # the zero state: on meta too
    logits, state = model.stream_step(frame, state)
    assert all(s.device == META for s in state.values())
    logits.sum().backward()
    assert grads_on_meta(model) > 0
    # inference from an explicit zero state
    model.eval()
    state = model.init_state(2, (40, 40), device=META)
    with torch.no_grad():
        for _ in range(3):
            logits, state = model.stream_step(frame, state)
    assert logits.device == META and logits.shape == (2, 8)
    assert all(s.device == META for s in state.values())
