from .checkpoint import (
    KeyReport,
    compare_state_dicts,
    describe_checkpoint,
    load_checked_checkpoint,
    load_state_dict_checked,
    read_checkpoint,
    register_archs,
    state_dict_of,
)
from .errors import CheckpointError, DeployError, UnreadableVideoError
from .files import (
    atomic_output_dir,
    atomic_output_file,
    check_output_dir,
    check_output_path,
    replace_dir,
    sha256_file,
    write_json_atomic,
)

__all__ = ['CheckpointError', 'DeployError', 'UnreadableVideoError',
           'KeyReport', 'atomic_output_dir', 'atomic_output_file',
           'check_output_dir', 'check_output_path', 'compare_state_dicts',
           'describe_checkpoint', 'load_checked_checkpoint',
           'load_state_dict_checked', 'read_checkpoint', 'register_archs',
           'replace_dir', 'sha256_file', 'state_dict_of',
           'write_json_atomic']
