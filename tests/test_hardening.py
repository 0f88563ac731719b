"""Hardening: checkpoints must fit their model, tools never overwrite their
inputs, the stream state contract checks dtypes, half precision on CPU,
one-line errors (issue 11, items 2, 4-7, 9)."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import movinet_mm  # noqa: F401
from helpers import build_recognizer, randomize_
from movinet_mm.utils import (CheckpointError, check_output_path,
                              describe_checkpoint, load_checked_checkpoint,
                              read_checkpoint)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _load_tool(path):
    spec = importlib.util.spec_from_file_location(
        'tool_' + osp.basename(path)[:-3], osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _save(model, path, **extra):
    torch.save({'state_dict': model.state_dict(), 'meta': {'seed': 1},
                **extra}, path)
    return str(path)


# ------------------------------------------------- item 2: describe / load
@pytest.mark.parametrize('arch,stream,conv_type,expected', [
    ('a0', False, '3d', 'MoViNet-A0 base (3d'),
    ('a1', True, '3d_2plus1d', 'MoViNet-A1 stream (3d_2plus1d, SE 2plus3d)'),
    ('a3', True, '2plus1d', 'MoViNet-A3 stream (2plus1d, SE 2plus3d, pos. '
     'enc.)'),
    ('t0', False, '3d', 'MoViNet-T0 base'),
])
def test_describe_checkpoint_guesses_the_model(arch, stream, conv_type,
                                               expected):
    model = build_recognizer(arch, stream, conv_type, num_classes=7)
    text = describe_checkpoint(model.state_dict())
    assert text.startswith(expected), text
    assert text.endswith('7 classes')
    # DDP-style keys describe the same
    wrapped = {f'module.{k}': v for k, v in model.state_dict().items()}
    assert describe_checkpoint(wrapped) == text


def test_describe_checkpoint_custom_and_not_movinet():
    custom = dict(stem_channels=8, blocks=[dict(out_channels=16, layers=[
        (24, (3, 3, 3), (1, 2, 2))])], project_channels=32, head_channels=64)
    model = build_recognizer('a0', False)
    model = type(model)(
        backbone=dict(type='MoViNet', arch=custom),
        cls_head=dict(type='MoViNetHead', num_classes=3, in_channels=32,
                      hidden_channels=64))
    assert describe_checkpoint(model).startswith('MoViNet-custom base')
    assert 'no MoViNet' in describe_checkpoint({'fc.weight': torch.zeros(2)})


def test_checkpoint_of_another_model_is_one_error(tmp_path):
    a0 = build_recognizer('a0', True, '3d_2plus1d')
    path = _save(build_recognizer('a1', True, '3d_2plus1d'),
                 tmp_path / 'a1_stream.pth')
    with pytest.raises(CheckpointError) as info:
        load_checked_checkpoint(a0, path)
    message = str(info.value)
    assert '\n' not in message
    assert 'a1_stream.pth' in message
    assert 'holds MoViNet-A1 stream (3d_2plus1d' in message
    assert 'model is MoViNet-A0 stream (3d_2plus1d' in message
    assert '371 of other shape' in message
    # base vs stream, and classes
    base = _save(build_recognizer('a0', False), tmp_path / 'a0_base.pth')
    with pytest.raises(CheckpointError, match='holds MoViNet-A0 base .*600 '
                       'classes, the model is MoViNet-A0 stream'):
        load_checked_checkpoint(a0, base)
    classes = build_recognizer('a0', True, '3d_2plus1d', num_classes=5)
    with pytest.raises(CheckpointError, match='600 classes, the model is '
                       r'.*5 classes; 2 of other shape'):
        load_checked_checkpoint(classes, _save(a0, tmp_path / 'a0.pth'))


def test_non_strict_loads_what_fits_and_says_what_not(tmp_path, caplog):
    import logging
    source = randomize_(build_recognizer('a0', True, '3d_2plus1d'))
    path = _save(source, tmp_path / 'k600.pth')
    target = build_recognizer('a0', True, '3d_2plus1d', num_classes=5)
    with caplog.at_level(logging.INFO, logger='hardening'):
        meta = load_checked_checkpoint(target, path, strict=False,
                                       logger=logging.getLogger('hardening'))
    assert meta == {'seed': 1}
    for key, value in source.state_dict().items():
        if not key.startswith('cls_head.fc_cls'):
            torch.testing.assert_close(target.state_dict()[key], value)
    out = caplog.text
    lines = [line for line in out.splitlines() if 'not loaded' in line]
    assert len(lines) == 1, out
    assert 'loaded 449 of 451 tensors' in lines[0]
    assert 'cls_head.fc_cls.weight [600, 2048] vs [5, 2048]' in lines[0]
    # a fitting checkpoint loads strictly
    same = build_recognizer('a0', True, '3d_2plus1d')
    load_checked_checkpoint(same, path)
    torch.testing.assert_close(same.state_dict()['backbone.stem.conv.weight'],
                               source.state_dict()['backbone.stem.conv.weight'])


@pytest.mark.parametrize('content,expected', [
    (b'', 'is empty'),
    (b'not a checkpoint at all', 'is not a torch checkpoint'),
    (None, 'no such file'),
    ('dir', 'is a directory'),
    ('nontensor', 'non-tensor entries'),
    ('list', 'holds no state dict'),
])
def test_unreadable_checkpoints_name_the_file(tmp_path, content, expected):
    path = tmp_path / 'ckpt.pth'
    if content == 'dir':
        path.mkdir()
    elif content == 'nontensor':
        torch.save({'state_dict': {'a': torch.zeros(1), 'b': 'text'}}, path)
    elif content == 'list':
        torch.save([1, 2], path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(str(path))
    message = str(info.value)
    assert expected in message and '\n' not in message
    assert 'ckpt.pth' in message


# --------------------------------------------- item 2: tools/test.py, train
@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """The tiny video config of test_runner.py as a file, and an A0-stream
    checkpoint that fits it."""
    from test_runner import make_tiny_videos, tiny_config
    root = str(tmp_path_factory.mktemp('hardening_videos'))
    ann_file = make_tiny_videos(root)
    work = tmp_path_factory.mktemp('hardening_work')
    cfg = tiny_config(root, ann_file, str(work / 'run'), 'hardening')
    cfg.train_cfg.max_epochs = 1
    config = str(work / 'tiny_config.py')
    cfg.dump(config)
    from mmaction.registry import MODELS
    model = randomize_(MODELS.build(cfg.model))
    fits = _save(model, work / 'fits.pth')
    other = _save(build_recognizer('a1', True, '3d_2plus1d'),
                  work / 'a1_stream.pth')
    return dict(config=config, fits=fits, other=other, work=work, cfg=cfg,
                model=model)


def test_test_tool_refuses_a_checkpoint_of_another_model(tiny, capsys):
    tool = _load_tool('tools/test.py')
    work = str(tiny['work'] / 'test_other')
    with pytest.raises(SystemExit) as info:
        tool.main([tiny['config'], tiny['other'], '--work-dir', work])
    message = str(info.value)
    assert message.startswith('error: checkpoint a1_stream.pth does not fit')
    assert 'MoViNet-A1 stream' in message and 'MoViNet-A0 stream' in message
    assert '\n' not in message
    # empty file: named, before anything is built
    empty = tiny['work'] / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(SystemExit, match=f'checkpoint {empty} is empty'):
        tool.main([tiny['config'], str(empty), '--work-dir', work])


@pytest.mark.slow
def test_test_tool_non_strict_and_fitting_checkpoints_run(tiny):
    tool = _load_tool('tools/test.py')
    tool.main([tiny['config'], tiny['fits'], '--work-dir',
               str(tiny['work'] / 'test_fits'), '--cfg-options',
               'log_level=INFO'])
    log = _read_logs(tiny['work'] / 'test_fits')
    assert 'Load checkpoint from' in log and 'acc/top1' in log
    # the 600-class head does not fit a 4-class config: strict refuses,
    # --non-strict loads the rest and says so in one line
    options = ['--cfg-options', 'model.cls_head.num_classes=4',
               'log_level=INFO']
    with pytest.raises(SystemExit, match='2 of other shape'):
        tool.main([tiny['config'], tiny['fits'], '--work-dir',
                   str(tiny['work'] / 'test_strict'), *options])
    tool.main([tiny['config'], tiny['fits'], '--non-strict', '--work-dir',
               str(tiny['work'] / 'test_nonstrict'), *options])
    log = _read_logs(tiny['work'] / 'test_nonstrict')
    assert 'loaded 449 of 451 tensors' in log and 'acc/top1' in log


def _read_logs(work_dir):
    text = ''
    for root, _, names in os.walk(work_dir):
        for name in names:
            if name.endswith('.log'):
                with open(osp.join(root, name)) as f:
                    text += f.read()
    return text


def test_finetuning_load_from_ends_with_a_one_line_summary(tiny):
    from mmengine.hooks import Hook

    from mmaction.registry import RUNNERS
    cfg = tiny['cfg'].copy()
    cfg.model.cls_head.num_classes = 4
    cfg.load_from = tiny['fits']
    cfg.work_dir = str(tiny['work'] / 'finetune')
    cfg.runner_type = 'CheckedLoadRunner'
    cfg.log_level = 'INFO'

    class Probe(Hook):
        def before_train(self, runner):
            self.stem = runner.model.state_dict()[
                'backbone.stem.conv.weight'].clone()
            self.cls = runner.model.state_dict()['cls_head.fc_cls.weight']

    probe = Probe()
    runner = RUNNERS.build(cfg)
    runner.register_hook(probe)
    runner.train()
    torch.testing.assert_close(
        probe.stem, tiny['model'].state_dict()['backbone.stem.conv.weight'])
    assert probe.cls.shape == (4, 2048)
    log = _read_logs(cfg.work_dir)
    lines = [line for line in log.splitlines() if 'not loaded' in line]
    assert len(lines) == 1
    assert 'loaded 449 of 451 tensors' in lines[0]
    assert 'size mismatch' not in log  # MMEngine's own, per-key report


# ------------------------------------------------------ item 2 + 4: merge
class _Result:
    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def _merge(*args):
    """Run the merge tool in this process (as its command line would)."""
    tool = _load_tool('tools/merge_ensemble_checkpoints.py')
    try:
        tool.main([str(a) for a in args])
    except SystemExit as exit:
        return _Result(1, str(exit.code) + '\n')
    return _Result(0, '')


def test_merge_checks_members_against_each_other(tmp_path):
    a0 = _save(build_recognizer('a0', True, '2plus1d', num_classes=5),
               tmp_path / 'a0.pth')
    a1 = _save(build_recognizer('a1', True, '2plus1d', num_classes=5),
               tmp_path / 'a1.pth')
    out = tmp_path / 'ens.pth'
    result = _merge(a0, a1, '--out', out)
    assert result.returncode != 0 and not out.exists()
    assert 'the members are different models' in result.stderr
    assert 'MoViNet-A0 stream' in result.stderr
    assert 'MoViNet-A1 stream' in result.stderr
    c7 = _save(build_recognizer('a0', True, '2plus1d', num_classes=7),
               tmp_path / 'c7.pth')
    result = _merge(a0, c7, '--out', out, '--mixed')
    assert 'different numbers of classes' in result.stderr
    bad = tmp_path / 'bad.pth'
    state = dict(torch.load(a0, weights_only=True)['state_dict'])
    state['backbone.note'] = 'not a tensor'
    torch.save({'state_dict': state}, bad)
    result = _merge(a0, bad, '--out', out)
    assert result.returncode != 0 and 'non-tensor entries' in result.stderr
    assert not out.exists()
    result = _merge(a0, a1, '--out', out, '--mixed')  # e.g. A6 = A4 + A5
    assert result.returncode == 0, result.stderr


def test_merge_never_writes_over_a_member(tmp_path):
    a0 = _save(build_recognizer('a0', True, '2plus1d', num_classes=5),
               tmp_path / 'a0.pth')
    before = open(a0, 'rb').read()
    link = tmp_path / 'link.pth'
    link.symlink_to(a0)
    for out in (a0, link, tmp_path / '.' / 'a0.pth'):
        result = _merge(a0, a0, '--out', out)
        assert result.returncode != 0
        assert 'is also an input' in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = _merge(a0, a0, '--out', tmp_path)
    assert 'is an existing directory' in result.stderr
    assert open(a0, 'rb').read() == before


# --------------------------------------------------------- item 4: convert
def test_convert_never_writes_over_its_input(tmp_path, capsys):
    tool = _load_tool('tools/convert_tf_checkpoint.py')
    archive = tmp_path / 'movinet_a0_base.tar.gz'
    archive.write_bytes(b'the release archive')
    assert tool.main([str(archive), str(archive), '--arch', 'a0',
                      '--mode', 'base']) == 1
    assert 'is also an input' in capsys.readouterr().err
    assert archive.read_bytes() == b'the release archive'
    # a checkpoint prefix: its .index and .data files are inputs too
    folder = tmp_path / 'ckpt'
    folder.mkdir()
    (folder / 'ckpt-1.index').write_bytes(b'index')
    (folder / 'ckpt-1.data-00000-of-00001').write_bytes(b'data')
    assert tool.main([str(folder / 'ckpt-1'), str(folder / 'ckpt-1.index'),
                      '--arch', 'a0', '--mode', 'base']) == 1
    assert (folder / 'ckpt-1.index').read_bytes() == b'index'
    assert tool.main([str(folder), str(folder / 'ckpt-1.data-00000-of-00001'),
                      '--arch', 'a0', '--mode', 'base']) == 1
    assert tool.main([str(archive), str(tmp_path), '--arch', 'a0',
                      '--mode', 'base']) == 1
    assert 'is an existing directory' in capsys.readouterr().err


def test_check_output_path(tmp_path):
    src = tmp_path / 'in.pth'
    src.write_bytes(b'x')
    assert check_output_path(tmp_path / 'out.pth', [src]) == \
        osp.realpath(tmp_path / 'out.pth')
    with pytest.raises(ValueError, match='also an input'):
        check_output_path(tmp_path / 'sub' / '..' / 'in.pth', [src])
    with pytest.raises(ValueError, match='existing directory'):
        check_output_path(tmp_path, [src])


# ------------------------------------------- item 9: sub-clips under DDP
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

    import movinet_mm  # noqa: F401  (CPU DDP: no device ids)
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
    from test_stream_dist import free_port
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


# ------------------------------------------- item 5: stream state dtypes
@pytest.fixture(scope='module')
def stream_a0():
    model = randomize_(build_recognizer('a0', True, '2plus1d', num_classes=5))
    x = torch.rand(2, 3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, state = model.stream_step(x[:, :, :2])
    return model, x[:, :, 2:], state


@pytest.mark.parametrize('name,dtype,expected', [
    ('state_block1_layer0_stream_buffer', torch.long,
     'must be a floating point tensor'),
    ('state_block1_layer0_pool_buffer', torch.bool,
     'must be a floating point tensor'),
    ('state_head_pool_buffer', torch.int32, 'must be a floating point'),
    ('state_block1_layer0_pool_frame_count', torch.float32,
     'must be an integer tensor'),
    ('state_head_pool_frame_count', torch.bool, 'must be an integer tensor'),
    ('state_block2_layer1_stream_buffer', torch.float64,
     'is torch.float64 but the input is torch.float32'),
    ('state_head_pool_buffer', torch.float16,
     'is torch.float16 but the input is torch.float32'),
])
def test_stream_state_dtypes_are_checked(stream_a0, name, dtype, expected):
    model, x, state = stream_a0
    bad = dict(state, **{name: state[name].to(dtype)})
    with pytest.raises(ValueError, match=expected) as info, torch.no_grad():
        model.stream_step(x, bad)
    assert name in str(info.value) and '\n' not in str(info.value)
    with torch.no_grad():  # the untouched state still works
        model.stream_step(x, state)


def test_stream_state_under_autocast_may_hold_the_autocast_dtype(stream_a0):
    model, x, state = stream_a0
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        _, state = model.stream_step(x, None)
        model.stream_step(x, state)


# ------------------------------------------- item 6: half precision on CPU
# Measured on randomised A0/A3 models, 2 x 8 frames of 32x32, frame by
# frame against one whole clip (|logits| up to 5): max |stream - whole| is
# 0.6-1.2% of max |logits| in bfloat16 and 0.1-0.3% in float16 (and both
# 1-2% off the float32 logits, the precision of the formats).
HALF_TOLERANCE = {torch.bfloat16: 0.025, torch.float16: 0.01}


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_precision_models_run_on_cpu(dtype):
    x = torch.rand(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(1))
    base = randomize_(build_recognizer('a0', False, num_classes=5))
    with torch.no_grad():
        reference = base.cls_head(base.backbone(x))
        half = base.to(dtype).cls_head(base.backbone(x.to(dtype)))
    assert half.dtype == dtype
    scale = float(reference.abs().max())
    assert float((half.float() - reference).abs().max()) < 0.05 * scale

    model = randomize_(build_recognizer('a0', True, '2plus1d', num_classes=5))
    with torch.no_grad():
        reference = model.cls_head(model.backbone(x))
        model = model.to(dtype)
        whole = model.cls_head(model.backbone(x.to(dtype))).float()
        state = None
        for t in range(x.shape[2]):
            logits, state = model.stream_step(x[:, :, t:t + 1].to(dtype),
                                              state)
    assert all(v.dtype == (torch.long if k.endswith('frame_count') else dtype)
               for k, v in state.items())
    scale = float(reference.abs().max())
    assert float((logits.float() - whole).abs().max()) <= \
        HALF_TOLERANCE[dtype] * scale
    assert float((whole - reference).abs().max()) < 0.05 * scale


def test_input_of_another_dtype_is_one_error():
    model = build_recognizer('a0', True, '2plus1d', num_classes=5)
    x = torch.rand(1, 3, 2, 32, 32)
    with pytest.raises(ValueError, match=r'the input is torch.bfloat16 but '
                       r'the model is torch.float32: cast one'):
        model.backbone(x.to(torch.bfloat16))
    with pytest.raises(ValueError, match='the input is torch.float32 but'):
        model.to(torch.bfloat16).stream_step(x)


# ---------------------------------------------- item 7: one-line errors
def test_get_flops_missing_config_and_2d_model(tmp_path):
    tool = _load_tool('tools/analysis/get_flops.py')
    with pytest.raises(SystemExit, match='no such config file: .*nope.py'):
        tool.main([str(tmp_path / 'nope.py')])
    config = tmp_path / 'tsn.py'
    config.write_text(
        "default_scope = 'mmaction'\n"
        "model = dict(type='Recognizer2D', backbone=dict(type='ResNet', "
        "depth=18, pretrained=None), cls_head=dict(type='TSNHead', "
        "num_classes=5, in_channels=512))\n")
    with pytest.raises(SystemExit, match='Recognizer2D is a 2D recognizer'):
        tool.main([str(config), '--shape', '4', '32', '32'])
    config.write_text('model = dict(\n')
    with pytest.raises(SystemExit, match='cannot read the config'):
        tool.main([str(config)])


def test_ensemble_member_checkpoint_errors_name_the_file(tmp_path):
    from test_ensemble import build_ensemble
    empty = tmp_path / 'member.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=f'checkpoint {empty} is empty'):
        build_ensemble(randomize=False, member_checkpoints=[None, str(empty)])


# ----------------------------------------------- fine-tuning configs
@pytest.mark.parametrize('name', [
    'movinet_a0_ucf101_split1.py', 'movinet_a0_stream_ucf101_split1.py',
    'movinet_a0_hmdb51_split1.py', 'movinet_a0_stream_hmdb51_split1.py',
    'movinet_a0_ucf101_split1_rawframes.py'])
def test_finetune_configs_take_a_k600_checkpoint_without_classifier(name):
    """What `convert_tf_checkpoint.py --finetune` writes fits every tensor
    but the new classifier."""
    from mmengine.config import Config

    from mmaction.registry import MODELS
    from movinet_mm.utils import load_state_dict_checked
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'finetune', name))
    model = MODELS.build(cfg.model)
    stream = cfg.model.backbone.get('causal', False)
    k600 = build_recognizer('a0', stream, '3d_2plus1d' if stream else '3d')
    state = {k: v for k, v in k600.state_dict().items()
             if not k.startswith('cls_head.fc_cls.')}
    report = load_state_dict_checked(model, state, 'k600', strict=False)
    assert report.missing == ['cls_head.fc_cls.weight', 'cls_head.fc_cls.bias']
    assert not report.unexpected and not report.mismatched
    expected = 51 if 'hmdb51' in name else 101
    assert model.cls_head.num_classes == expected
    assert cfg.load_from.startswith('checkpoints/movinet_a0_')


@pytest.mark.slow
def test_mim_train_two_processes_with_sub_clips(tmp_path):
    """`mim train --launcher pytorch -G 2` with train_cfg.sub_clips=2: the
    Runner picks SubClipDistributedDataParallel by itself."""
    from test_demo_pipeline import (CONFIG, checkpoint_iter, free_port,
                                    last_checkpoint, make_data, run,
                                    tiny_options)
    data = make_data(str(tmp_path / 'data'))
    work = str(tmp_path / 'work')
    options = tiny_options(data, 1, batch=2)
    out = run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', CONFIG,
               '--launcher', 'pytorch', '-G', '2', '--port',
               str(free_port()), '--work-dir', work, *options,
               'model.train_cfg.sub_clips=2'])
    assert 'using the gloo backend' in out
    assert checkpoint_iter(last_checkpoint(work)) == 2
    logs = ''.join(open(osp.join(work, d, f'{d}.log')).read()
                   for d in os.listdir(work)
                   if osp.isfile(osp.join(work, d, f'{d}.log')))
    assert 'wrapping the model in SubClipDistributedDataParallel' in logs
    assert 'Epoch(train)' in logs
