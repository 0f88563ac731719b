"""Each causal op and TF quirk against a plain reference computation."""
import math

import pytest
import torch
import torch.nn.functional as F

from movinet_mm.models.layers import (
    ConvBlock,
    GlobalAvgPool,
    HardSigmoid,
    HardSwish,
    PositionalEncoding,
    SamePadAvgPool,
    StreamBuffer,
    StreamConvBlock,
    make_divisible,
    reset_state,
    se_hidden_channels,
    sine_encoding,
    tf_same_padding,
)


def test_tf_same_padding_is_asymmetric_at_stride_2_on_even_sizes():
    assert tf_same_padding(4, 3, 2) == (0, 1)
    assert tf_same_padding(172, 3, 2) == (0, 1)
    assert tf_same_padding(86, 5, 2) == (1, 2)
    assert tf_same_padding(43, 3, 2) == (1, 1)
    assert tf_same_padding(43, 5, 2) == (2, 2)
    assert tf_same_padding(10, 3, 1) == (1, 1)


@pytest.mark.parametrize('size', [(8, 8), (9, 7), (6, 11)])
@pytest.mark.parametrize('conv_type', ['3d', '2plus1d'])
def test_strided_conv_matches_tf_same(size, conv_type):
    torch.manual_seed(0)
    block = ConvBlock(4, 4, (1, 5, 5), (1, 2, 2), groups=4,
                      conv_type=conv_type, norm_cfg=None)
    x = torch.randn(2, 4, 3, *size)
    weight = block.conv.weight.reshape(4, 1, 5, 5)
    ph, pw = tf_same_padding(size[0], 5, 2), tf_same_padding(size[1], 5, 2)
    frames = x.transpose(1, 2).reshape(6, 4, *size)
    ref = F.conv2d(F.pad(frames, (*pw, *ph)), weight, stride=2, groups=4)
    ref = ref.reshape(2, 3, 4, *ref.shape[-2:]).transpose(1, 2)
    out = block(x)
    assert out.shape[-2:] == (math.ceil(size[0] / 2), math.ceil(size[1] / 2))
    torch.testing.assert_close(out, ref)


def test_stride_2_windows_start_at_zero_on_even_input():
    # TF 'SAME' on a 4x4 input with a 3x3/2 kernel: windows at rows 0 and 2.
    block = ConvBlock(1, 1, (1, 3, 3), (1, 2, 2), norm_cfg=None)
    with torch.no_grad():
        block.conv.weight.zero_()
        block.conv.weight[..., 0, 0] = 1  # picks the window's top-left cell
    x = torch.arange(16.).reshape(1, 1, 1, 4, 4)
    assert block(x).flatten().tolist() == [0.0, 2.0, 8.0, 10.0]


def test_avg_pool_excludes_padding_like_tf():
    x = torch.arange(16.).reshape(1, 1, 1, 4, 4)
    out = SamePadAvgPool()(x)
    # tf.keras.layers.AveragePooling2D(3, 2, 'same') on the same input.
    assert out.flatten().tolist() == [5.0, 6.5, 11.0, 12.5]


@pytest.mark.parametrize("size", [(5, 5), (5, 6), (7, 4), (2, 2), (1, 3)])
def test_avg_pool_reference(size):
    x = torch.randn(1, 2, 2, *size)
    out = SamePadAvgPool()(x)
    (pt, pb), (pl, pr) = tf_same_padding(size[0], 3, 2), tf_same_padding(
        size[1], 3, 2)
    padded = F.pad(x, (pl, pr, pt, pb))
    ones = F.pad(torch.ones_like(x), (pl, pr, pt, pb))
    ref = (F.avg_pool3d(padded, (1, 3, 3), (1, 2, 2)) /
           F.avg_pool3d(ones, (1, 3, 3), (1, 2, 2)))
    torch.testing.assert_close(out, ref)


def test_activation_constants():
    x = torch.linspace(-4, 4, 81)
    torch.testing.assert_close(HardSigmoid()(x),
                               torch.clamp(x + 3, 0, 6) * 0.16667)
    assert HardSigmoid()(torch.tensor(3.0)).item() == pytest.approx(
        6 * 0.16667)  # not exactly 1.0: the official constant
    torch.testing.assert_close(HardSwish()(x),
                               x * torch.clamp(x + 3, 0, 6) / 6)


def test_stream_buffer_keeps_last_frames_even_for_short_inputs():
    buf = StreamBuffer(4, 'b')
    frames = torch.arange(6.).view(1, 1, 6, 1, 1)
    full, state = buf(frames[:, :, :1], None)
    assert full.flatten().tolist() == [0, 0, 0, 0, 0]
    for t in range(1, 6):
        full, state = buf(frames[:, :, t:t + 1], state)
    assert full.flatten().tolist() == [1, 2, 3, 4, 5]
    assert state.flatten().tolist() == [2, 3, 4, 5]
    with pytest.raises(ValueError, match='another batch size'):
        buf(torch.zeros(2, 1, 1, 1, 1), state)


@pytest.mark.parametrize('conv_type', ['3d', '3d_2plus1d', '2plus1d'])
def test_causal_conv_equals_front_padding_and_streams(conv_type):
    torch.manual_seed(0)
    block = StreamConvBlock(3, 3, (3, 3, 3), (1, 2, 2), depthwise=True,
                            conv_type=conv_type, causal=True, norm_cfg=None)
    x = torch.randn(2, 3, 7, 9, 8)
    whole, _ = block(x)
    # Reference: the same op run non-causally on a clip padded in front with
    # kt - 1 zero frames, keeping the last T outputs.
    block.causal = False
    ref_block = StreamConvBlock(3, 3, (3, 3, 3), (1, 2, 2), depthwise=True,
                                conv_type=conv_type, causal=False,
                                norm_cfg=None)
    ref_block.load_state_dict(block.state_dict())
    padded = F.pad(x, (0, 0, 0, 0, 2, 0))
    ref, _ = ref_block(padded)
    torch.testing.assert_close(whole, ref[:, :, 1:-1])
    state, outs = None, []
    for t in range(7):
        out, state = block(x[:, :, t:t + 1], state)
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 2), whole)


def test_base_conv_is_not_causal():
    block = StreamConvBlock(1, 1, (3, 1, 1), depthwise=True, causal=False,
                            norm_cfg=None)
    with torch.no_grad():
        block.conv.conv.weight.fill_(1.0)
    x = torch.zeros(1, 1, 5, 1, 1)
    x[:, :, 3] = 1
    out, state = block(x)
    assert state == {}
    # Symmetric 'SAME' padding: frame 2 sees frame 3, its future.
    assert out.flatten().tolist() == [0, 0, 1, 1, 1]


def test_causal_global_pool_is_a_cumulative_mean():
    pool = GlobalAvgPool(causal=True, state_prefix='p')
    x = torch.randn(2, 3, 6, 4, 5)
    out, state = pool(x[:, :, :4])
    out2, state = pool(x[:, :, 4:], state)
    means = x.mean(dim=(3, 4))
    ref = torch.stack([means[:, :, :t + 1].mean(2) for t in range(6)], 2)
    torch.testing.assert_close(torch.cat([out, out2], 2)[..., 0, 0], ref)
    assert state['p_pool_frame_count'].tolist() == [6, 6]
    torch.testing.assert_close(state['p_pool_buffer'][:, :, 0, 0, 0],
                               means.sum(2))


def test_head_pool_is_a_running_mean_over_all_frames():
    pool = GlobalAvgPool(causal=False, state_prefix='h')
    x = torch.randn(2, 3, 7, 2, 2)
    state = None
    for t in range(7):
        out, state = pool(x[:, :, t:t + 1], state)
        torch.testing.assert_close(out.flatten(1),
                                   x[:, :, :t + 1].mean(dim=(2, 3, 4)))


def test_sine_encoding_reference():
    channels = 6
    enc = sine_encoding(torch.tensor([[0, 1, 7]]), channels)[0]
    for row, p in zip(enc, [0, 1, 7]):
        angles = [1 / 10000**(2 * (i // 2) / channels) for i in range(6)]
        sines = [math.sin(p * angles[i]) for i in range(0, 6, 2)]
        cosines = [math.cos(p * angles[i]) for i in range(1, 6, 2)]
        # block concat: all sines first, then all cosines
        torch.testing.assert_close(row, torch.tensor(sines + cosines))


def test_positional_encoding_continues_across_calls():
    pe = PositionalEncoding('s')
    with torch.no_grad():
        pe.scale.fill_(0.5)
    x = torch.zeros(2, 8, 5, 1, 1)
    whole, _ = pe(x)
    a, state = pe(x[:, :, :2])
    b, state = pe(x[:, :, 2:], state)
    torch.testing.assert_close(torch.cat([a, b], 2), whole)
    ref = 0.5 * sine_encoding(torch.arange(5).view(1, 5), 8)[0].t()
    torch.testing.assert_close(whole[0, :, :, 0, 0], ref)
    assert state['s_pos_enc_frame_count'].tolist() == [5, 5]


def test_se_hidden_sizes_match_the_official_specs():
    # (expand, base hidden, stream hidden) from the official A0/A5 layers
    for expand, base, stream in [(24, 8, 16), (80, 24, 40), (184, 48, 96),
                                 (112, 32, 56), (384, 96, 192),
                                 (280, 72, 144), (344, 88, 176),
                                 (16, 8, 8), (296, 72, 152),
                                 (744, 184, 376)]:
        assert se_hidden_channels(expand, '3d') == base
        assert se_hidden_channels(expand, '2plus3d') == stream
    assert make_divisible(10.0) == 16  # never more than 10% down


def test_reset_state_resets_only_masked_samples():
    state = {
        'a_stream_buffer': torch.ones(3, 2, 2, 1, 1),
        'a_pool_frame_count': torch.tensor([4, 4, 4]),
    }
    out = reset_state(state, torch.tensor([False, True, False]))
    assert out['a_pool_frame_count'].tolist() == [4, 0, 4]
    assert out['a_stream_buffer'][1].abs().sum() == 0
    assert out['a_stream_buffer'][0].sum() == 4
    with pytest.raises(ValueError, match='one flag per sample'):
        reset_state(state, torch.tensor([True]))


def test_strided_temporal_only_kernel_in_2plus1d():
    """(5, 1, 1) at stride 2 (in the search space): the spatial half is a
    strided 1x1."""
    from movinet_mm.models import MoViNet, convert_conv_type
    from movinet_mm.models.backbones.movinet_arch import ArchSpec, BlockSpec, LayerSpec
    torch.manual_seed(0)
    blocks = tuple(
        BlockSpec(16, (LayerSpec(24, k, (1, 2, 2)), LayerSpec(24, k)))
        for k in [(5, 1, 1), (7, 1, 1), (1, 7, 7), (5, 3, 3), (3, 3, 3)])
    arch = ArchSpec(8, blocks, 32, 64, 32)
    kwargs = dict(arch=arch, causal=True, se_type='2plus3d')
    train = MoViNet(conv_type='3d_2plus1d', **kwargs)
    train.init_weights()
    for m in train.modules():
        if hasattr(m, 'rezero'):
            m.rezero.data.fill_(0.5)
    infer = MoViNet(conv_type='2plus1d', **kwargs)
    infer.load_state_dict(convert_conv_type(train.state_dict(), infer))
    train.eval(), infer.eval()
    x = torch.randn(1, 3, 4, 40, 40)
    with torch.no_grad():
        whole = train(x)
        torch.testing.assert_close(infer(x), whole, rtol=1e-5, atol=1e-5)
        state, chunks = None, []
        for t in range(4):
            y, state = infer.forward_stream(x[:, :, t:t + 1], state)
            chunks.append(y)
    torch.testing.assert_close(torch.cat(chunks, 2), whole, rtol=1e-5,
                               atol=1e-5)


# ---------------------------------------- each layer's state and inference form
def _bottleneck(causal, conv_type, se_type, kernel, stride, pos_enc=False):
    from movinet_mm.models.layers import MovinetBottleneck
    from movinet_mm.utils.random_weights import randomize_
    torch.manual_seed(0)
    layer = MovinetBottleneck(
        8, 16, 24, kernel, stride, causal=causal, conv_type=conv_type,
        se_type=se_type, act='hard_swish', gating_act='hard_sigmoid',
        use_positional_encoding=pos_enc, state_prefix='state_block0_layer0')
    randomize_(layer)
    return layer.eval()


LAYER_CASES = [
    # causal, conv_type, se_type, kernel, stride, positional encoding
    (True, '2plus1d', '2plus3d', (3, 3, 3), (1, 2, 2), False),
    (True, '3d_2plus1d', '2plus3d', (5, 1, 1), (1, 1, 1), True),
    (True, '3d', '3d', (3, 3, 3), (1, 2, 2), False),
    (True, '2plus1d', '2d', (1, 5, 5), (1, 1, 1), True),
    (False, '3d', '3d', (3, 3, 3), (1, 2, 2), False),
    (False, '3d', 'none', (5, 3, 3), (1, 1, 1), False),
]


@pytest.mark.parametrize('case', LAYER_CASES)
@pytest.mark.parametrize('size', [(9, 10), (8, 8)])
def test_layer_state_spec_is_what_the_layer_returns(case, size):
    layer = _bottleneck(*case)
    x = torch.randn(2, 8, 3, *size)
    with torch.no_grad():
        out, state = layer(x)
    spec = layer.state_spec(2, size)
    assert list(spec) == list(state)
    for name, value in state.items():
        assert tuple(value.shape) == spec[name].shape, name
        assert value.dtype == spec[name].dtype, name
    assert tuple(out.shape[-2:]) == layer.output_size(size)


@pytest.mark.parametrize('case', LAYER_CASES)
def test_layer_inference_form_equals_the_layer(case):
    size = (9, 10)
    layer = _bottleneck(*case)
    x = torch.randn(1, 8, 5, *size)
    with torch.no_grad():
        ref, _ = layer(x)
        form, out_size = layer.to_inference(size)
        clip = form.clip(x[0].transpose(0, 1))
        torch.testing.assert_close(clip, ref[0].transpose(0, 1),
                                   rtol=1e-4, atol=1e-5)
        assert out_size == tuple(ref.shape[-2:])
        if not case[0]:
            return
        state = {name: torch.zeros(spec.shape, dtype=spec.dtype)
                 for name, spec in layer.state_spec(1, size).items()}
        for t in range(x.shape[2]):
            new_state = {}
            frame = form.stream(x[:, :, t], state, new_state)
            torch.testing.assert_close(frame, ref[:, :, t],
                                       rtol=1e-4, atol=1e-5)
            assert set(new_state) == set(state)
            state = new_state
