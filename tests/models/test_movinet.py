"""The MoViNet family: official parameter counts, streaming, conv types, bad input."""
import pytest
import torch
from helpers import STREAM_ARCHS, build_recognizer, randomize_

from movinet_mm.models import MoViNet, convert_conv_type
from movinet_mm.models.layers import reset_state

# Trainable parameters with a 600-class head, from the official TF models.
OFFICIAL_PARAMS = {
    'a0': (3_111_799, 3_748_031),
    'a1': (4_690_296, 6_447_352),
    'a2': (5_249_562, 7_326_962),
    'a3': (7_397_545, 10_986_618),
    'a4': (11_349_463, 18_136_182),
    'a5': (18_650_523, 31_495_934),
    't0': (1_727_414, 2_368_958),
}
OFFICIAL_BACKBONE_PARAMS = {
    'a0': (897_311, 1_533_543),
    'a3': (4_642_385, 8_231_458),
    'a5': (15_387_459, 28_232_870),
}


def n_params(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
@pytest.mark.parametrize('stream', [False, True])
def test_parameter_counts_equal_the_official_models(arch, stream):
    model = build_recognizer(arch, stream, conv_type='2plus1d')
    assert n_params(model) == OFFICIAL_PARAMS[arch][stream]
    if arch in OFFICIAL_BACKBONE_PARAMS:
        assert n_params(
            model.backbone) == OFFICIAL_BACKBONE_PARAMS[arch][stream]


@pytest.mark.parametrize('conv_type', ['3d_2plus1d', '2plus1d'])
def test_both_2plus1d_forms_have_the_same_parameters(conv_type):
    assert n_params(build_recognizer('a1', True, conv_type)) == \
        OFFICIAL_PARAMS['a1'][True]


def feed(model, x, chunk):
    state = None
    for start in range(0, x.shape[2], chunk):
        logits, state = model.stream_step(x[:, :, start:start + chunk], state)
    return logits, state


@pytest.mark.parametrize('arch', STREAM_ARCHS)
def test_stream_equals_whole_clip(arch):
    model = randomize_(build_recognizer(arch, True, num_classes=7), seed=1)
    torch.manual_seed(0)
    x = torch.rand(2, 3, 9, 40, 36)
    with torch.no_grad():
        whole = model.cls_head(model.backbone(x))
        assert whole.abs().max() > 1e-2  # the check is not trivial
        for chunk in (9, 1, 2, 3, 7):
            logits, state = feed(model, x, chunk)
            assert (logits - whole).abs().max().item() <= 1e-4, chunk
    assert set(state) == set(model.state_shapes(2, (40, 36)))


@pytest.mark.parametrize('conv_type', ['3d', '3d_2plus1d'])
def test_stream_equals_whole_clip_other_conv_types(conv_type):
    se_type = '3d' if conv_type == '3d' else '2plus3d'
    model = randomize_(
        build_recognizer('a3', True, conv_type, num_classes=5,
                         se_type=se_type,
                         use_positional_encoding=conv_type != '3d'))
    x = torch.rand(2, 3, 6, 33, 33)
    with torch.no_grad():
        whole = model.cls_head(model.backbone(x))
        for chunk in (1, 4):
            logits, _ = feed(model, x, chunk)
            assert (logits - whole).abs().max().item() <= 1e-4


def test_logits_after_each_step_equal_the_clip_so_far():
    model = randomize_(build_recognizer('a0', True, num_classes=4))
    x = torch.rand(2, 3, 5, 32, 32)
    with torch.no_grad():
        state = None
        for t in range(5):
            logits, state = model.stream_step(x[:, :, t:t + 1], state)
            prefix = model.cls_head(model.backbone(x[:, :, :t + 1]))
            assert (logits - prefix).abs().max() <= 1e-5


def test_base_model_sees_the_future_and_stream_model_does_not():
    x = torch.rand(1, 3, 6, 32, 32)
    y = x.clone()
    y[:, :, -1] = 0  # change only the last frame
    for stream in (False, True):
        model = randomize_(build_recognizer('a0', stream, num_classes=4))
        with torch.no_grad():
            fx, fy = model.backbone(x), model.backbone(y)
        same_early = torch.allclose(fx[:, :, :4], fy[:, :, :4], atol=1e-6)
        assert same_early == stream


def test_conversion_between_2plus1d_forms_keeps_outputs():
    train_form = randomize_(
        build_recognizer('a3', True, '3d_2plus1d', num_classes=6))
    run_form = build_recognizer('a3', True, '2plus1d', num_classes=6).eval()
    run_form.load_state_dict(
        convert_conv_type(train_form.state_dict(), run_form))
    x = torch.rand(2, 3, 5, 32, 40)
    with torch.no_grad():
        a = train_form.cls_head(train_form.backbone(x))
        b = run_form.cls_head(run_form.backbone(x))
    assert (a - b).abs().max() <= 1e-5
    back = build_recognizer('a3', True, '3d_2plus1d', num_classes=6)
    back.load_state_dict(convert_conv_type(run_form.state_dict(), back))
    for key, value in train_form.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value)


def test_conversion_refuses_another_model():
    a0 = build_recognizer('a0', True, '3d_2plus1d')
    a1 = build_recognizer('a1', True, '2plus1d')
    with pytest.raises(ValueError, match='cannot convert'):
        convert_conv_type(a0.state_dict(), a1)


def test_state_follows_input_dtype_and_device_and_init_state():
    model = randomize_(build_recognizer('a0', True, num_classes=3)).double()
    x = torch.rand(2, 3, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        logits, state = model.stream_step(x)
        zero_logits, _ = model.stream_step(
            x, model.init_state(2, (32, 32), torch.float64))
    assert logits.dtype == torch.float64
    for name, value in state.items():
        expected = torch.long if name.endswith('frame_count') else \
            torch.float64
        assert value.dtype == expected and value.device == x.device
    torch.testing.assert_close(logits, zero_logits)
    shapes = model.state_shapes(2, (32, 32))
    assert {k: tuple(v.shape) for k, v in state.items()} == shapes
    # the official names, e.g. A0's stream buffers and the head pool
    assert shapes['state_block1_layer0_stream_buffer'] == (2, 80, 2, 4, 4)
    assert shapes['state_block2_layer0_stream_buffer'] == (2, 184, 4, 2, 2)
    assert 'state_block4_layer1_stream_buffer' not in shapes  # 1x5x5
    assert shapes['state_head_pool_buffer'] == (2, 480, 1, 1, 1)


def test_a0_state_shapes_at_172_match_the_official_ones():
    shapes = build_recognizer('a0', True).state_shapes(1, (172, 172))
    assert shapes['state_block1_layer2_stream_buffer'] == (1, 80, 2, 22, 22)
    assert shapes['state_block2_layer0_stream_buffer'] == (1, 184, 4, 11, 11)
    assert shapes['state_block2_layer1_stream_buffer'] == (1, 112, 2, 11, 11)
    assert shapes['state_block4_layer0_stream_buffer'] == (1, 384, 4, 6, 6)
    assert len(build_recognizer('a3', True).state_shapes(1, (256, 256))) \
        == 124  # as many as the official A3 stream model has


def test_forward_without_state_keeps_nothing():
    model = randomize_(build_recognizer('a0', True, num_classes=3))
    x = torch.rand(2, 3, 4, 32, 32)
    with torch.no_grad():
        first = model.cls_head(model.backbone(x))
        model.stream_step(torch.rand(2, 3, 4, 32, 32))
        second = model.cls_head(model.backbone(x))
    torch.testing.assert_close(first, second)


def test_reset_one_sample_of_a_batch():
    model = randomize_(build_recognizer('a0', True, num_classes=3))
    x = torch.rand(2, 3, 6, 32, 32)
    with torch.no_grad():
        _, state = model.stream_step(x[:, :, :3])
        state = reset_state(state, torch.tensor([True, False]))
        logits, _ = model.stream_step(x[:, :, 3:], state)
        fresh = model.cls_head(model.backbone(x[:1, :, 3:]))
        whole = model.cls_head(model.backbone(x[1:]))
    torch.testing.assert_close(logits[:1], fresh, atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[1:], whole, atol=1e-5, rtol=0)


def test_training_step_backpropagates_through_the_state():
    model = build_recognizer('a0', True, num_classes=3)
    model.init_weights()
    model.train()
    x = torch.rand(2, 3, 4, 32, 32, requires_grad=True)
    _, state = model.stream_step(x[:, :, :2])
    logits, _ = model.stream_step(x[:, :, 2:], state)
    logits.sum().backward()
    assert x.grad[:, :, :2].abs().sum() > 0


def test_options_frozen_stages_norm_eval_with_cp():
    model = build_recognizer('a0', True, frozen_stages=1, norm_eval=True,
                             with_cp=True, drop_path_rate=0.2)
    model.train()
    assert not any(p.requires_grad for p in model.backbone.stem.parameters())
    assert not any(p.requires_grad
                   for p in model.backbone.blocks[0].parameters())
    assert all(p.requires_grad for p in model.backbone.blocks[1].parameters())
    assert not model.backbone.blocks[2][0].expansion.bn.training
    x = torch.rand(1, 3, 2, 32, 32, requires_grad=True)
    model.cls_head(model.backbone(x)).sum().backward()
    assert x.grad is not None
    rates = [layer.drop_path.drop_prob for stage in model.backbone.blocks
             for layer in stage]
    assert rates[0] == pytest.approx(0.2 / 15) and rates[-1] == 0.2


def test_custom_arch_table():
    arch = dict(stem_channels=8,
                blocks=[dict(out_channels=16,
                             layers=[(24, (3, 3, 3), (1, 2, 2))])],
                project_channels=32, head_channels=64)
    backbone = MoViNet(arch=arch, causal=True, se_type='2plus3d',
                       conv_type='2plus1d')
    out = backbone(torch.rand(1, 3, 2, 32, 32))
    assert out.shape == (1, 32, 2, 8, 8)


# ------------------------------------------------------------- bad input
@pytest.fixture(scope='module')
def stream_a0():
    return randomize_(build_recognizer('a0', True, num_classes=3))


@pytest.mark.parametrize('shape, message', [
    ((2, 4, 3, 32, 32), 'expects 3 channels'),
    ((2, 3, 32, 32), '5-D'),
    ((1, 2, 3, 3, 32, 32), '5-D'),
    ((2, 3, 3, 16, 32), 'too small'),
])
def test_bad_input_shapes_raise(stream_a0, shape, message):
    with pytest.raises(ValueError, match=message):
        stream_a0.stream_step(torch.rand(shape))
    with pytest.raises(ValueError, match=message):
        stream_a0.backbone(torch.rand(shape))


def test_integer_frames_are_refused(stream_a0):
    with pytest.raises(ValueError, match='float'):
        stream_a0.stream_step(torch.zeros(1, 3, 2, 32, 32, dtype=torch.uint8))


def test_unknown_arch_and_options_raise():
    with pytest.raises(ValueError, match="unknown MoViNet arch 'a9'"):
        MoViNet(arch='a9')
    with pytest.raises(ValueError, match='conv_type'):
        MoViNet(conv_type='4d')
    with pytest.raises(ValueError, match='se_type'):
        MoViNet(se_type='1d')
    with pytest.raises(ValueError, match='activation'):
        MoViNet(activation='gelu')
    with pytest.raises(ValueError, match='causal=True'):
        MoViNet(use_positional_encoding=True, se_type='2plus3d')


def test_state_for_another_batch_size_is_refused(stream_a0):
    _, state = stream_a0.stream_step(torch.rand(2, 3, 2, 32, 32))
    with pytest.raises(ValueError, match='batch size'):
        stream_a0.stream_step(torch.rand(3, 3, 1, 32, 32), state)
    with pytest.raises(ValueError, match='frame size'):
        stream_a0.stream_step(torch.rand(2, 3, 1, 64, 64), state)


def test_state_for_another_model_is_refused(stream_a0):
    a1 = build_recognizer('a1', True, num_classes=3).eval()
    _, state = a1.stream_step(torch.rand(1, 3, 1, 32, 32))
    with pytest.raises(ValueError, match='another model'):
        stream_a0.stream_step(torch.rand(1, 3, 1, 32, 32), state)
    _, a0_state = stream_a0.stream_step(torch.rand(1, 3, 1, 32, 32))
    with pytest.raises(ValueError, match='another model'):
        a1.stream_step(torch.rand(1, 3, 1, 32, 32), a0_state)


def test_base_model_cannot_stream():
    base = build_recognizer('a0', False, num_classes=3)
    with pytest.raises(RuntimeError, match='causal'):
        base.stream_step(torch.rand(1, 3, 1, 32, 32))
