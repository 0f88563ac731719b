"""Online recognition: frames in, running predictions out, constant memory.

``OnlineRecognizer`` is the stateful convenience over the one step contract
``stream_step(inputs [1, 3, t, H, W] float32, state) -> (logits [1, K],
state)`` that ``MoViNetRecognizer`` and every exported runtime
(:func:`movinet_mm.deploy.runtime.load_runtime`) share. It owns one stream
state and prepares each raw frame with the config's own test pipeline
(:class:`movinet_mm.datasets.frames.FramePipeline`). A video fed frame by
frame therefore gets the logits the stream test loop gives it. A frame that
is not ``uint8`` RGB ``[H, W, 3]`` is refused with a one-line message before
it touches the state.
"""
import os.path as osp
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor

from ..datasets.frames import (
    FrameError,
    FramePipeline,
    check_frame,
    config_sampling,
    ensemble_branches,
    frame_transforms,
    normalisation,
)

BACKENDS = ('torch', 'onnxruntime', 'openvino', 'executorch', 'litert')


def _causal_check(model) -> None:
    backbone = getattr(model, 'backbone', None)
    if backbone is not None and not getattr(backbone, 'causal', False):
        raise ValueError('online recognition needs a causal (stream) MoViNet;'
                         ' this is a base model: use a *_stream_* config')
    if not callable(getattr(model, 'stream_step', None)):
        raise ValueError(f'{type(model).__name__} has no stream_step(inputs,'
                         ' state): online recognition needs a stream model '
                         'or an exported stream runtime')


def model_is_multi_label(model) -> bool:
    """A recognizer whose head has ``multi_class=True``, or a runtime of a
    multi-label export: its classes are scored by sigmoid, not softmax."""
    if hasattr(model, 'cls_head'):
        return bool(getattr(model.cls_head, 'multi_class', False))
    return bool(getattr(model, 'multi_label', False))


def scores(logits: Tensor, multi_label: bool) -> Tensor:
    """Class probabilities: per-class sigmoid if multi-label, else softmax."""
    return logits.sigmoid() if multi_label else logits.softmax(-1)


class OnlineRecognizer:
    """Feed frames one by one (or a few at a time); get running predictions.

    Example::

        model, cfg = init_recognizer('configs/movinet_a0_stream_k600.py',
                                     ckpt)
        online = OnlineRecognizer.from_config(model, cfg)
        for frame in camera:               # [H, W, 3] uint8 RGB
            probs = online.update(frame)   # [num_classes]
        online.reset()                     # before the next video

    ``model`` is anything with ``stream_step(inputs, state) -> (logits,
    state)``: a causal ``MoViNetRecognizer`` (run on ``device`` without
    gradients) or an exported runtime. The predictions after frame t are
    those of the whole clip up to t. They are softmax probabilities, or
    per-class sigmoid probabilities for a multi-label model (a head with
    ``multi_class=True``; a runtime whose meta.json says ``multi_label``):
    ``multi_label`` tells which.
    """

    def __init__(self, model, preprocess: FramePipeline,
                 device: Union[str, torch.device] = 'cpu'):
        _causal_check(model)
        self.is_torch = isinstance(model, torch.nn.Module)
        self.model = model.eval() if self.is_torch else model
        self.preprocess = preprocess
        self.device = torch.device(device)
        self.state = None
        self.frames_seen = 0
        self.last_logits: Optional[Tensor] = None
        self.multi_label = model_is_multi_label(model)

    @classmethod
    def from_config(cls, model, cfg: Config, device='cpu'):
        """``model`` (torch) with the preprocessing of ``cfg``'s test pipeline."""
        _causal_check(model)
        return cls(model, FramePipeline.from_config(cfg), device)

    @classmethod
    def from_runtime(cls, runtime):
        """An exported model (``load_runtime``) with its meta.json's
        preprocessing."""
        return cls(runtime, FramePipeline.from_meta(runtime.meta))

    def reset(self) -> None:
        self.state = None
        self.frames_seen = 0
        self.last_logits = None
        self.preprocess.output_size = None

    def _frames(self, frames) -> List:
        if isinstance(frames, (list, tuple)):
            if not frames:
                raise FrameError('update() got no frames')
            return list(frames)
        if isinstance(frames, (np.ndarray, torch.Tensor)) and \
                frames.ndim == 4:
            if len(frames) == 0:
                raise FrameError('update() got no frames')
            return list(frames)
        return [frames]

    def update(self, frames) -> Tensor:
        """Feed one ``[H, W, 3]`` frame or several (a list, or ``[T, H, W, 3]``);
        returns the class probabilities ``[K]`` after the last one."""
        # every frame is checked and prepared before the state moves
        clip = torch.cat([self.preprocess(f) for f in self._frames(frames)],
                         dim=2)
        if self.is_torch:
            with torch.no_grad():
                logits, state = self.model.stream_step(
                    clip.to(self.device), self.state)
        else:
            logits, state = self.model.stream_step(clip.numpy(), self.state)
        logits = torch.as_tensor(logits).detach().cpu().float()
        if not torch.isfinite(logits).all():
            raise FloatingPointError('the model produced NaN/inf logits; '
                                     'the state was not updated')
        self.state = state
        self.frames_seen += clip.shape[2]
        self.last_logits = logits[0]
        return scores(self.last_logits, self.multi_label)


class OnlineEnsemble:
    """An ``EnsembleRecognizer`` online: each member on its own frames.

    Member i takes the raw frames its pipeline branch samples (``frame
    interval``, ``offset``: the even and odd frames of a half-rate pair) and
    keeps its own state; the prediction is the softmax (sigmoid for
    multi-label members) of the mean of the members' latest raw logits (the
    ensemble's rule), so after a video's last frame it is what the stream
    test loop gives. Feed every raw frame.
    """

    def __init__(self, members: Sequence[OnlineRecognizer],
                 samplings: Sequence[Tuple[int, int]]):
        if len(members) != len(samplings) or len(members) < 2:
            raise ValueError('an online ensemble needs >= 2 members, one '
                             'sampling (frame interval, offset) each')
        self.members = list(members)
        self.samplings = [tuple(s) for s in samplings]
        self.frames_seen = 0
        kinds = {m.multi_label for m in self.members}
        if len(kinds) != 1:
            raise ValueError('ensemble members must all be multi-label or '
                             'all single-label')
        self.multi_label = kinds.pop()

    @classmethod
    def from_config(cls, model, cfg: Config, device='cpu'):
        members, samplings = [], []
        for member, (key, pipeline, pre) in zip(model.members,
                                                ensemble_branches(cfg)):
            members.append(OnlineRecognizer(
                member, FramePipeline(frame_transforms(
                    pipeline, f'the branch of {key!r}'),
                    *normalisation(pre)),
                device))
            samplings.append(config_sampling(pipeline))
        return cls(members, samplings)

    @property
    def last_logits(self) -> Optional[Tensor]:
        started = [m.last_logits for m in self.members
                   if m.last_logits is not None]
        return torch.stack(started).mean(0) if started else None

    def reset(self) -> None:
        for member in self.members:
            member.reset()
        self.frames_seen = 0

    def update(self, frame) -> Optional[Tensor]:
        """Feed the next raw ``[H, W, 3]`` frame; the probabilities, or None
        when no member samples this frame."""
        frame = check_frame(frame)
        index = self.frames_seen
        self.frames_seen += 1
        takers = [m for m, (interval, offset) in zip(self.members,
                                                     self.samplings)
                  if index >= offset and (index - offset) % interval == 0]
        for member in takers:
            member.update(frame)
        return scores(self.last_logits, self.multi_label) if takers \
            else None


def online_recognizer(model, cfg: Config, device='cpu'):
    """The online form of ``model`` for ``cfg``: an :class:`OnlineRecognizer`,
    or an :class:`OnlineEnsemble` for an ``EnsembleRecognizer`` (which
    samples its members' frames itself: feed it every frame)."""
    if hasattr(model, 'members') and hasattr(model, 'input_keys'):
        return OnlineEnsemble.from_config(model, cfg, device)
    return OnlineRecognizer.from_config(model, cfg, device)


def init_recognizer(config: Union[str, Config], checkpoint: Optional[str] = None,
                    device: Union[str, torch.device] = 'cpu',
                    strict: bool = True):
    """Build the config's model, load ``checkpoint`` (checked: a checkpoint
    of another model is a one-line error unless ``strict=False``), put it in
    eval mode; the checkpoint's ``dataset_meta`` (class names) becomes
    ``model.dataset_meta``. Returns ``(model, cfg)``."""
    from mmaction.utils import register_all_modules
    from mmengine.registry import MODELS

    import movinet_mm  # noqa: F401  (registers the modules)

    from ..utils.checkpoint import load_checked_checkpoint
    register_all_modules(init_default_scope=True)
    if isinstance(config, str):
        if not osp.isfile(config):
            raise FileNotFoundError(f'no such config: {config}')
        cfg = Config.fromfile(config)
    else:
        cfg = config
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        meta = load_checked_checkpoint(model, checkpoint, strict=strict)
        if meta.get('dataset_meta'):  # class names, as MMDet/MMPretrain keep
            model.dataset_meta = dict(meta['dataset_meta'])
    return model.to(device).eval(), cfg


def sampled_frames(frames: Iterable[np.ndarray], frame_interval: int = 1,
                   offset: int = 0) -> Iterator[Tuple[int, np.ndarray]]:
    """Every ``frame_interval``-th frame from ``offset`` on, of any iterable
    (a file, a camera), with its index: the stream loop's ``SampleAllFrames``."""
    if frame_interval < 1 or offset < 0:
        raise ValueError('frame_interval must be >= 1 and offset >= 0, got '
                         f'{frame_interval} and {offset}')
    for index, frame in enumerate(frames):
        if index >= offset and (index - offset) % frame_interval == 0:
            yield index, frame


def recognize_frames(online, frames: Iterable[np.ndarray],
                     frame_interval: int = 1, offset: int = 0
                     ) -> Iterator[Tuple[int, Tensor]]:
    """``(frame index, probabilities)`` after each frame the model took."""
    online.reset()
    for index, frame in sampled_frames(frames, frame_interval, offset):
        probs = online.update(frame)
        if probs is not None:
            yield index, probs


def config_frame_interval(cfg: Config) -> int:
    return config_sampling(cfg)[0]
