from .sub_clip_ddp import SubClipDistributedDataParallel

__all__ = ['SubClipDistributedDataParallel']
