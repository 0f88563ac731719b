"""Sub-clip training under DDP equals one process."""

import pytest
import torch
from helpers import randomize_

import movinet_mm  # noqa: F401

SUB_CLIP_BATCH = 4  # total, split over the processes


def _sub_clip_model():
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MoViNetRecognizer',
        backbone=dict(type='MoViNet', arch='a0', causal=True,
                      conv_type='2plus1d', se_type='2plus3d',
                      activation='hard_swish',
                      gating_activation='hard_sigmoid', norm_eval=True),
        cls_head=dict(type='MoViNetHead', num_classes=3, in_channels=480,
                      dropout_ratio=0.0),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               mean=[0., 0., 0.], std=[255., 255., 255.],
                               format_shape='NCTHW'),
        train_cfg=dict(sub_clips=3)))
    model.init_weights()
    randomize_(model, seed=3)  # non-zero ReZero: every branch matters
    return model.train()


def _sub_clip_batch(indices):
    from mmaction.structures import ActionDataSample
    g = torch.Generator().manual_seed(11)
    clips = torch.randint(0, 256, (SUB_CLIP_BATCH, 1, 3, 6, 32, 32),
                          generator=g, dtype=torch.uint8)
    samples = [ActionDataSample().set_gt_label(i % 3)
               for i in range(SUB_CLIP_BATCH)]
    return dict(inputs=[clips[i] for i in indices],
                data_samples=[samples[i] for i in indices])


def _sgd(model):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))


def _sub_clip_ddp_worker(rank, world_size, port, out):
    import torch.distributed as dist
    from mmaction.utils import register_all_modules

    from movinet_mm.engine import SubClipDistributedDataParallel
    register_all_modules()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    try:
        model = _sub_clip_model()
        ddp = SubClipDistributedDataParallel(model, broadcast_buffers=False)
        per = SUB_CLIP_BATCH // world_size
        log = ddp.train_step(
            _sub_clip_batch(range(rank * per, (rank + 1) * per)), _sgd(ddp))
        if rank == 0:
            torch.save({'state': model.state_dict(),
                        'loss': float(log['loss'])}, out)
    finally:
        dist.destroy_process_group()


def test_sub_clip_training_under_ddp_equals_one_process(tmp_path):
    from runs import free_port
    model = _sub_clip_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train_step(_sub_clip_batch(range(SUB_CLIP_BATCH)), _sgd(model))
    out = str(tmp_path / 'rank0.pth')
    torch.multiprocessing.spawn(_sub_clip_ddp_worker,
                                args=(2, free_port(), out), nprocs=2)
    ddp_state = torch.load(out, weights_only=True)['state']
    moved = 0
    for key, value in model.state_dict().items():
        torch.testing.assert_close(ddp_state[key], value, atol=2e-6,
                                   rtol=1e-5, msg=key)
        moved += not torch.equal(value, before[key])
    assert moved > 100  # the step changed the weights (all but BN stats)
    # BN statistics stayed frozen (norm_eval)
    torch.testing.assert_close(ddp_state['backbone.stem.bn.running_mean'],
                               before['backbone.stem.bn.running_mean'])


def test_plain_ddp_wrapper_points_to_the_sub_clip_wrapper():
    model = _sub_clip_model()
    data = model.data_preprocessor(_sub_clip_batch([0, 1]), True)
    with pytest.raises(RuntimeError, match='SubClipDistributedDataParallel'):
        model(**data, mode='loss')
