from .backbones import *  # noqa: F401,F403
from .conversion import convert_conv_type
from .heads import *  # noqa: F401,F403
from .recognizers import *  # noqa: F401,F403

__all__ = [
    'MoViNet', 'MoViNetHead', 'MoViNetRecognizer', 'EnsembleRecognizer',
    'convert_conv_type'
]
