from .merged_groups import MergedGroupsOptimWrapperConstructor
from .per_variable_clip import (
    PerVariableClipAmpOptimWrapper,
    PerVariableClipOptimWrapper,
)
from .tf_rmsprop import TFRMSprop

__all__ = [
    'MergedGroupsOptimWrapperConstructor', 'PerVariableClipAmpOptimWrapper',
    'PerVariableClipOptimWrapper', 'TFRMSprop'
]
