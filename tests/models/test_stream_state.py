"""The stream state contract: dtypes checked, half precision on CPU."""

import pytest
import torch
from helpers import build_recognizer, randomize_

import movinet_mm  # noqa: F401


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


@pytest.mark.parametrize('layout', ['eager', 'channels_first',
                                    'channels_last'])
def test_state_layouts_round_trip(layout):
    import numpy as np

    from movinet_mm.models.layers.state import (
        from_layout,
        layout_shape,
        to_layout,
    )

    # C = (kt - 1) * H: a shape alone cannot tell the layouts apart
    buffer = torch.randn(1, 6, 2, 3, 5)
    pool = torch.randn(1, 6, 1, 1, 1)
    count = torch.tensor([4])
    want = {'eager': (1, 6, 2, 3, 5), 'channels_first': (1, 6, 6, 5),
            'channels_last': (1, 6, 5, 6)}[layout]
    for make in (lambda t: t, lambda t: t.numpy()):
        name = 'state_block0_layer0_stream_buffer'
        value = to_layout(name, make(buffer), layout)
        assert tuple(value.shape) == want == layout_shape(name, buffer.shape,
                                                          layout)
        back = from_layout(name, value, buffer.shape, layout)
        assert np.array_equal(np.asarray(back), buffer.numpy())
        if layout == 'channels_last':  # frame k, row y, column x, channel c
            assert value[0, 1 * 3 + 2, 4, 5] == buffer[0, 5, 1, 2, 4]
        name = 'state_head_pool_buffer'
        value = to_layout(name, make(pool), layout)
        assert tuple(value.shape) == ((1, 6, 1, 1, 1) if layout == 'eager'
                                      else (1, 6, 1, 1))
        assert np.array_equal(np.asarray(from_layout(name, value, pool.shape,
                                                     layout)), pool.numpy())
        name = 'state_head_pool_frame_count'
        assert tuple(to_layout(name, make(count), layout).shape) == (1, )
    with pytest.raises(ValueError, match='state layout must be one of'):
        layout_shape('x_stream_buffer', buffer.shape, 'nhwc')
