from .per_variable_clip import (
    PerVariableClipAmpOptimWrapper,
    PerVariableClipOptimWrapper,
)
from .tf_rmsprop import TFRMSprop

__all__ = [
    'PerVariableClipAmpOptimWrapper', 'PerVariableClipOptimWrapper',
    'TFRMSprop'
]
