"""Official TensorFlow MoViNet checkpoints -> movinet_mm (no TensorFlow needed).

``tools/convert_tf_checkpoint.py`` is the command-line front end.
"""
from .convert import (
    CheckpointInfo,
    ConversionError,
    build_model,
    convert_tf_checkpoint,
    inspect_tf_vars,
    save_checkpoint,
)
from .tf_checkpoint import tf_to_torch_state_dict, torch_to_tf_vars
from .tf_reader import CheckpointError, load_tf_checkpoint

__all__ = [
    'tf_to_torch_state_dict', 'torch_to_tf_vars', 'load_tf_checkpoint',
    'CheckpointError', 'ConversionError', 'CheckpointInfo', 'inspect_tf_vars',
    'build_model',
    'convert_tf_checkpoint', 'save_checkpoint'
]
