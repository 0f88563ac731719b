from .activations import HardSigmoid, HardSwish, build_activation
from .bottleneck import MovinetBottleneck, SkipBlock
from .conv import (
    CONV_TYPES,
    ConvBlock,
    FrameConv2d,
    StreamConvBlock,
    TimeConv2d,
    tf_same_padding,
)
from .pooling import GlobalAvgPool, SamePadAvgPool, spatial_mean
from .positional_encoding import PositionalEncoding, sine_encoding
from .squeeze_excitation import (
    SE_TYPES,
    StreamSqueezeExcitation,
    make_divisible,
    se_hidden_channels,
)
from .state import (
    STATE_LAYOUTS,
    StreamState,
    from_layout,
    layout_shape,
    reset_state,
    select_samples,
    state_nbytes,
    to_layout,
)
from .stream_buffer import StreamBuffer

__all__ = [
    'HardSigmoid', 'HardSwish', 'build_activation', 'MovinetBottleneck',
    'SkipBlock', 'CONV_TYPES', 'ConvBlock', 'FrameConv2d', 'StreamConvBlock',
    'TimeConv2d', 'tf_same_padding', 'GlobalAvgPool', 'SamePadAvgPool',
    'spatial_mean', 'PositionalEncoding', 'sine_encoding', 'SE_TYPES',
    'StreamSqueezeExcitation', 'make_divisible', 'se_hidden_channels',
    'StreamState', 'reset_state', 'select_samples', 'state_nbytes',
    'STATE_LAYOUTS', 'layout_shape', 'to_layout', 'from_layout',
    'StreamBuffer'
]
