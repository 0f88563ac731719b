"""DDP for sub-clip training (``train_cfg=dict(sub_clips=n)``).

MMEngine's ``MMDistributedDataParallel.train_step`` runs one forward and one
backward, bypassing ``MoViNetRecognizer.train_step``, where sub-clip
training lives. This wrapper runs the recognizer's sub-clip iteration with
every sub-clip's forward through DDP and ``no_sync`` for all but the last
one: the gradients of the first n - 1 sub-clips accumulate locally and the
sum is all-reduced once, with the last backward. One step thus equals a
single process on the total batch (with frozen BN statistics; otherwise
each process normalises its own batch, as in any DDP run).
"""
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


# MMEngine's root registry: Runner.wrap_model looks the type up there.
@MODEL_WRAPPERS.register_module()
class SubClipDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that knows ``train_cfg.sub_clips``."""

    def _sub_clips(self) -> int:
        sub_clips = getattr(self.module, '_sub_clips', None)
        return sub_clips() if callable(sub_clips) else 1

    def train_step(self, data, optim_wrapper):
        if self._sub_clips() == 1:
            return super().train_step(data, optim_wrapper)
        return self.module.train_sub_clips(data, optim_wrapper, model=self,
                                           no_sync=self.no_sync)
