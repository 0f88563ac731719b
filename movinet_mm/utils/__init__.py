from .checkpoint import (CheckpointError, KeyReport, check_output_path,
                         compare_state_dicts, describe_checkpoint,
                         load_checked_checkpoint, load_state_dict_checked,
                         read_checkpoint, state_dict_of)

__all__ = ['CheckpointError', 'KeyReport', 'check_output_path',
           'compare_state_dicts', 'describe_checkpoint',
           'load_checked_checkpoint', 'load_state_dict_checked',
           'read_checkpoint', 'state_dict_of']
