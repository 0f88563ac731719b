"""The MoViNet recognizer: MMAction2's Recognizer3D plus an explicit-state
stream API."""
import contextlib
from typing import Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
from mmaction.models.recognizers import Recognizer3D
from mmaction.registry import MODELS
from mmaction.utils import SampleList
from torch import Tensor

from ..layers import StreamState
from ..layers.state import StateSpecs
from .stream_scheduler import run_streams


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

    Training with the stream buffer: ``train_cfg=dict(sub_clips=n)`` splits
    each training clip into n sub-clips fed in order with the state carried
    between them; each sub-clip's loss (on the logits of the clip so far) is
    back-propagated at once and the state detached, so activations of only
    one sub-clip are alive at a time and peak training memory falls roughly
    as 1/n (gradients do not cross sub-clips). Under DDP,
    ``SubClipDistributedDataParallel`` (movinet_mm.engine) runs the same
    iteration with gradients synchronised on the last sub-clip only.
    """

    def _sub_clips(self) -> int:
        n = int((self.train_cfg or {}).get('sub_clips', 1))
        if n < 1:
            raise ValueError(f'train_cfg.sub_clips must be >= 1, got {n}')
        return n

    def train_step(self, data, optim_wrapper):
        if self._sub_clips() == 1:
            return super().train_step(data, optim_wrapper)
        return self.train_sub_clips(data, optim_wrapper)

    def train_sub_clips(self, data, optim_wrapper, model=None,
                        no_sync=None):
        """One training iteration over ``train_cfg.sub_clips`` sub-clips.

        Args:
            model: what runs each sub-clip's forward (``mode='sub_clip_loss'``):
                this recognizer, or a DDP wrapper of it, whose forward must
                run for its gradient hooks to fire.
            no_sync: a context manager factory (DDP's ``no_sync``) entered
                for every sub-clip but the last: gradients accumulate locally
                and are synchronised once, on the last backward.
        """
        n = self._sub_clips()
        if not self.backbone.causal:
            raise ValueError('train_cfg.sub_clips needs a causal backbone')
        model = self if model is None else model
        with optim_wrapper.optim_context(model):
            data = self.data_preprocessor(data, True)
            inputs, samples = data['inputs'], data['data_samples']
            clips = inputs.flatten(0, 1) if inputs.dim() == 6 else inputs
            frames = clips.shape[2]
            if frames < n:
                raise ValueError(f'cannot split {frames} frames into '
                                 f'{n} sub-clips')
            bounds = [round(k * frames / n) for k in range(n + 1)]
            state, log_vars = None, {}
            for k in range(n):
                local = no_sync is not None and k < n - 1
                with (no_sync() if local else contextlib.nullcontext()):
                    losses, state = model(
                        clips[:, :, bounds[k]:bounds[k + 1]], samples,
                        mode='sub_clip_loss', state=state)
                    loss, sub_log = self.parse_losses(losses)
                    optim_wrapper.backward(
                        optim_wrapper.scale_loss(loss / n))
                if k < n - 1:
                    # n backward passes make one iteration, not n
                    optim_wrapper._inner_count -= 1
                state = {key: v.detach() for key, v in state.items()}
                for key, value in sub_log.items():
                    log_vars[key] = log_vars.get(key, 0) + value.detach() / n
            if optim_wrapper.should_update():
                optim_wrapper.step()
                optim_wrapper.zero_grad()
        return log_vars

    def forward(self, inputs, data_samples=None, mode: str = 'tensor',
                **kwargs):
        if mode == 'sub_clip_loss':
            return self.sub_clip_loss(inputs, data_samples, **kwargs)
        return super().forward(inputs, data_samples, mode, **kwargs)

    def sub_clip_loss(self, inputs: Tensor, data_samples: SampleList,
                      state: Optional[Mapping[str, Tensor]] = None):
        """Losses on the logits of the clip so far, and the next state."""
        logits, state = self.stream_step(inputs, state)
        return self.cls_head.loss_by_feat(logits, data_samples), state

    def loss(self, inputs, data_samples, **kwargs):
        if self._sub_clips() > 1:
            raise RuntimeError(
                'train_cfg.sub_clips > 1 runs in MoViNetRecognizer.train_step,'
                " which MMEngine's DDP wrapper bypasses: set model_wrapper_cfg"
                "=dict(type='SubClipDistributedDataParallel') (movinet_mm's "
                'tools/train.py does so by itself), or sub_clips=1')
        return super().loss(inputs, data_samples, **kwargs)

    def state_spec(self, batch_size: int,
                   frame_size: Tuple[int, int]) -> StateSpecs:
        """Names, shapes and dtypes of the stream state (float buffers take
        the input's dtype)."""
        return {**self.backbone.state_spec(batch_size, frame_size),
                **self.cls_head.state_spec(batch_size)}

    def state_shapes(self, batch_size: int,
                     frame_size: Tuple[int, int]) -> dict:
        return {name: spec.shape for name, spec in
                self.state_spec(batch_size, frame_size).items()}

    def init_state(self,
                   batch_size: int,
                   frame_size: Tuple[int, int],
                   dtype: torch.dtype = torch.float32,
                   device: Optional[torch.device] = None) -> StreamState:
        """The zero state of new streams (what ``state=None`` means).

        Useful to export a step function with explicit state inputs.
        """
        return {
            name: torch.zeros(spec.shape,
                              dtype=dtype if spec.dtype.is_floating_point
                              else spec.dtype,
                              device=device)
            for name, spec in self.state_spec(batch_size, frame_size).items()
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

    def stream_logits(self,
                      inputs: Tensor,
                      lengths: Sequence[int],
                      chunk_size: int = 8,
                      num_trace_points: int = 0) -> 'StreamLogits':
        """Raw logits of whole videos streamed in sub-clips (see ``stream_predict``)."""
        if inputs.dim() == 5:  # [N, C, T, H, W]: one view per video
            inputs = inputs.unsqueeze(1)
        n, views = inputs.shape[:2]
        if len(lengths) != n:
            raise ValueError(f'{n} videos but {len(lengths)} lengths')
        stream_lengths = [int(t) for t in lengths for _ in range(views)]
        result = run_streams(self.stream_step, inputs.flatten(0, 1),
                             stream_lengths, chunk_size, num_trace_points)
        traces = frames = None
        if num_trace_points:
            traces = torch.stack([torch.stack(t) for t in result.trace_logits])
            frames = torch.tensor(result.trace_frames)
        return StreamLogits(result.logits, views, traces, frames)

    def stream_predict(self,
                       inputs: Tensor,
                       data_samples: SampleList,
                       lengths: Sequence[int],
                       chunk_size: int = 8,
                       num_trace_points: int = 0) -> SampleList:
        """Predict whole videos by streaming them in sub-clips.

        Args:
            inputs: preprocessed ``[N, V, C, T, H, W]`` (V views per video,
                zero-padded in time to the longest video of the batch).
            data_samples: one per video.
            lengths: the real number of frames of each video.
            chunk_size: frames per ``stream_step`` call (1 = frame by frame).
            num_trace_points: if > 0, also store in each data sample the
                (view-averaged) scores after 1/P, 2/P, ..., P/P of its frames
                as ``stream_scores`` ``[P, K]`` and ``stream_frames`` ``[P]``:
                the early-recognition trace.

        Returns:
            The data samples with ``pred_score``/``pred_label`` set from the
            logits after each video's last frame, averaged over views like a
            whole-clip ``predict``.
        """
        if len(data_samples) != len(lengths):
            raise ValueError(f'{len(lengths)} lengths but '
                             f'{len(data_samples)} data samples')
        out = self.stream_logits(inputs, lengths, chunk_size,
                                 num_trace_points)
        return set_stream_predictions(self.cls_head, data_samples, out)


class StreamLogits(NamedTuple):
    """Logits of ``N * views`` streams; traces ``[N * views, P, K]``."""
    logits: Tensor
    views: int
    trace_logits: Optional[Tensor] = None
    trace_frames: Optional[Tensor] = None


def set_stream_predictions(head, data_samples: SampleList,
                           out: StreamLogits) -> SampleList:
    """Fill data samples like ``BaseHead.predict_by_feat``, plus traces."""
    samples = head.predict_by_feat(out.logits, data_samples)
    if out.trace_logits is not None:
        views = out.views
        for i, sample in enumerate(samples):
            per_view = out.trace_logits[i * views:(i + 1) * views]  # [V,P,K]
            scores = head.average_clip(
                per_view.transpose(0, 1).flatten(0, 1), num_segs=views)
            sample.set_field(scores, 'stream_scores')
            sample.set_field(out.trace_frames[i * views], 'stream_frames')
    return samples
