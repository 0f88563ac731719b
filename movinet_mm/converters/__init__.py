from .tf_checkpoint import tf_to_torch_state_dict

__all__ = ['tf_to_torch_state_dict']
