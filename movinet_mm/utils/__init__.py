from .checkpoint import (
    KeyReport,
    check_output_path,
    compare_state_dicts,
    describe_checkpoint,
    load_checked_checkpoint,
    load_state_dict_checked,
    read_checkpoint,
    register_archs,
    state_dict_of,
)
from .errors import CheckpointError, DeployError, UnreadableVideoError
from .files import sha256_file

__all__ = ['CheckpointError', 'DeployError', 'UnreadableVideoError',
           'KeyReport', 'check_output_path', 'compare_state_dicts',
           'describe_checkpoint', 'load_checked_checkpoint',
           'load_state_dict_checked', 'read_checkpoint', 'register_archs',
           'sha256_file', 'state_dict_of']
