"""A Runner whose checkpoint loads are checked against the model.

MMEngine's ``Runner.load_checkpoint`` loads non-strictly: a checkpoint of
another model gives hundreds of ``size mismatch`` warnings and then a test on
random weights. This Runner loads strictly when testing, validating or
resuming (one :class:`~movinet_mm.utils.CheckpointError` that describes the
checkpoint against the model) and, when training from ``load_from``
(fine-tuning), loads what fits and logs one line on what was not loaded.
Distributed sub-clip training (``train_cfg.sub_clips > 1``) gets
``SubClipDistributedDataParallel`` unless the config names a wrapper.
"""
import re
from typing import Optional

from mmaction.registry import RUNNERS
from mmengine.runner import Runner

from ...utils.checkpoint import load_state_dict_checked, read_checkpoint


@RUNNERS.register_module()
class CheckedLoadRunner(Runner):
    """``Runner`` with checked checkpoint loading.

    ``load_strict`` (config key, or attribute): None (default) is strict for
    ``test()``, ``val()`` and resuming, non-strict for ``train()`` from
    ``load_from``; True or False forces it.
    """

    load_strict: Optional[bool] = None
    _purpose: str = 'test'

    @classmethod
    def from_cfg(cls, cfg) -> 'CheckedLoadRunner':
        runner = super().from_cfg(cfg)
        runner.load_strict = cfg.get('load_strict', None)
        return runner

    def wrap_model(self, model_wrapper_cfg, model):
        # Sub-clip training under DDP needs its own wrapper (MMEngine's
        # bypasses MoViNetRecognizer.train_step).
        sub_clips = getattr(model, '_sub_clips', None)
        if (model_wrapper_cfg is None and self.distributed
                and callable(sub_clips) and sub_clips() > 1):
            model_wrapper_cfg = dict(
                type='SubClipDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                    False))
            self.logger.info(
                f'train_cfg.sub_clips={sub_clips()}: wrapping the model in '
                'SubClipDistributedDataParallel (gradients synchronised on '
                'the last sub-clip)')
        return super().wrap_model(model_wrapper_cfg, model)

    def train(self):
        self._purpose = 'train'
        return super().train()

    def val(self):
        self._purpose = 'val'
        return super().val()

    def test(self):
        self._purpose = 'test'
        return super().test()

    def resume(self, *args, **kwargs):
        purpose, self._purpose = self._purpose, 'resume'
        try:
            return super().resume(*args, **kwargs)
        finally:
            self._purpose = purpose

    def _strict_now(self) -> bool:
        if self.load_strict is not None:
            return bool(self.load_strict)
        return self._purpose != 'train'

    def load_checkpoint(self, filename: str, map_location='cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module\.', '')]):
        # ``strict`` is MMEngine's argument (always False from
        # load_or_resume); the purpose of the load decides here.
        checkpoint = read_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        state = checkpoint['state_dict']
        for pattern, replacement in revise_keys:
            state = {re.sub(pattern, replacement, k): v
                     for k, v in state.items()}
        load_state_dict_checked(self.model, state, str(filename),
                                strict=strict or self._strict_now(),
                                logger=self.logger)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
