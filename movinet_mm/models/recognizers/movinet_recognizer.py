"""The MoViNet recognizer: MMAction2's Recognizer3D plus an explicit-state stream API."""
from typing import Mapping, Optional, Tuple

import torch
from mmaction.models.recognizers import Recognizer3D
from mmaction.registry import MODELS
from torch import Tensor

from ..layers import StreamState


@MODELS.register_module()
class MoViNetRecognizer(Recognizer3D):
    """Recognizer3D for MoViNets, with ``stream_step`` for causal models.

    Training, whole-clip testing and multi-view testing are Recognizer3D's.
    Streaming is explicit: the state is a flat ``dict`` of named tensors
    passed in and returned, nothing is kept inside the model::

        state = None
        for clip in sub_clips:            # [N, C, t, H, W], preprocessed
            logits, state = model.stream_step(clip, state)
        # logits == the whole-clip logits of everything seen so far

    See ``movinet_mm.models.layers.state`` for the layout of the state and
    ``reset_state`` to restart some streams of a batch.
    """

    def state_shapes(self, batch_size: int,
                     frame_size: Tuple[int, int]) -> dict:
        return {
            **self.backbone.state_shapes(batch_size, frame_size),
            **self.cls_head.state_shapes(batch_size)
        }

    def init_state(self,
                   batch_size: int,
                   frame_size: Tuple[int, int],
                   dtype: torch.dtype = torch.float32,
                   device: Optional[torch.device] = None) -> StreamState:
        """The zero state of new streams (what ``state=None`` means).

        Useful to export a step function with explicit state inputs.
        """
        return {
            name: torch.zeros(shape,
                              dtype=torch.long
                              if name.endswith('frame_count') else dtype,
                              device=device)
            for name, shape in self.state_shapes(batch_size,
                                                 frame_size).items()
        }

    def stream_step(self,
                    inputs: Tensor,
                    state: Optional[Mapping[str, Tensor]] = None
                    ) -> Tuple[Tensor, StreamState]:
        """Logits of the clips seen so far, after the next frames ``inputs``.

        Args:
            inputs: preprocessed float frames ``[N, C, t, H, W]``, t >= 1.
            state: the state returned by the previous call for these N
                streams, or None to start N new streams.

        Returns:
            ``(logits [N, num_classes], state)``; the logits equal those of a
            whole-clip forward over every frame fed so far.
        """
        if state is not None:
            unexpected = sorted(set(state) - set(
                self.state_shapes(1, (self.backbone.min_input_size, ) * 2)))
            if unexpected:
                raise ValueError(
                    f'the stream state has {len(unexpected)} entries this '
                    f'model does not use (e.g. {unexpected[:3]}): it was '
                    'built for another model; start with state=None')
        feats, backbone_state = self.backbone.forward_stream(inputs, state)
        logits, head_state = self.cls_head.forward_stream(feats, state)
        return logits, {**backbone_state, **head_state}
