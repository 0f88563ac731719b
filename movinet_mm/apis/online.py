"""Online recognition: frames in, running predictions out, constant memory.

``OnlineRecognizer`` is the stateful convenience over the one step contract
``stream_step(inputs [1, 3, t, H, W] float32, state) -> (logits [1, K],
state)`` that ``MoViNetRecognizer`` and every exported runtime
(:func:`movinet_mm.deploy.runtime.load_runtime`) share. It owns one stream
state and prepares each raw frame with the config's own test pipeline: the
transforms after decoding (``Resize``, ``CenterCrop``, ``FormatShape``, ...),
applied by MMCV/MMAction2 to a one-frame clip, then the model's data
preprocessor's ``(x - mean) / std``. A video fed frame by frame therefore
gets the logits the stream test loop gives it.

Frames: ``uint8`` RGB ``[H, W, 3]`` (numpy or torch), as decord, PIL or
OpenCV (after BGR -> RGB) give them. Anything else (float frames, whose
range cannot be told, grayscale, other channel counts) is refused with a
one-line message before it touches the state.
"""
import os.path as osp
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor

DECODE_SUFFIX = 'Decode'  # VideoDecode, DecordDecode, PyAVDecode, ...
SAMPLERS = ('SampleAllFrames', 'SampleFrames', 'UniformSample')
BACKENDS = ('torch', 'onnxruntime', 'openvino', 'executorch')


class FrameError(ValueError):
    """A frame the online recognizer cannot take; the message says why."""


def test_pipeline(cfg: Config) -> List[dict]:
    pipeline = cfg.get('test_pipeline') or \
        cfg.test_dataloader.dataset.pipeline
    return [dict(step) for step in pipeline]


def _find(pipeline: Sequence[dict], *types: str) -> Optional[dict]:
    for step in pipeline:
        if step.get('type') in types:
            return step
    return None


def frame_transforms(pipeline: Sequence[dict], source: str = 'the config'
                     ) -> List[dict]:
    """The test pipeline's steps after decoding, without the packing."""
    types = [step.get('type', '') for step in pipeline]
    decode = [i for i, t in enumerate(types) if t.endswith(DECODE_SUFFIX)]
    if not decode:
        branches = [t for t in types if t == 'KeyMapper']
        raise ValueError(
            f'{source}: the test pipeline has no decode step at its top '
            f'level ({types})' + (
                ': pipeline branches (KeyMapper, an ensemble) cannot run '
                'online; use one member\'s config' if branches else ''))
    return [dict(step) for step in pipeline[decode[-1] + 1:]
            if step.get('type') not in ('PackActionInputs', 'KeyMapper')]


def _mean_std(data_preprocessor: Optional[dict]):
    pre = data_preprocessor or {}
    if pre.get('type', 'ActionDataPreprocessor') != 'ActionDataPreprocessor':
        raise ValueError(f'online recognition normalises frames like '
                         f"ActionDataPreprocessor; the model has "
                         f"{pre.get('type')}")
    if pre.get('mean') is None:
        return None, None, bool(pre.get('to_rgb', False))
    return ([float(v) for v in pre['mean']], [float(v) for v in pre['std']],
            bool(pre.get('to_rgb', False)))


def check_frame(frame) -> np.ndarray:
    """``frame`` as a ``[H, W, 3]`` uint8 array, or a one-line FrameError."""
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    if not isinstance(frame, np.ndarray):
        raise FrameError('a frame must be a [H, W, 3] uint8 RGB array, got '
                         f'{type(frame).__name__}')
    if frame.dtype != np.uint8:
        if np.issubdtype(frame.dtype, np.floating) or \
                np.issubdtype(frame.dtype, np.complexfloating):
            if not np.isfinite(frame).all():
                raise FrameError(f'frame of shape {frame.shape} has NaN or '
                                 'inf values: frames must be uint8 RGB')
            raise FrameError(
                f'frames must be uint8 RGB in [0, 255], got {frame.dtype} '
                f'(values in [{frame.min():.3g}, {frame.max():.3g}]): convert'
                ' it, e.g. (frame * 255).round().astype(np.uint8) for a frame'
                ' in [0, 1]')
        raise FrameError(f'frames must be uint8 RGB in [0, 255], got '
                         f'{frame.dtype}')
    if frame.ndim == 2:
        raise FrameError(f'a frame must be [H, W, 3] RGB, got shape '
                         f'{frame.shape} (a grayscale frame? repeat it to '
                         '3 channels)')
    if frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) < 1:
        raise FrameError(f'a frame must be [H, W, 3] RGB, got shape '
                         f'{frame.shape}')
    return np.ascontiguousarray(frame)


class FramePipeline:
    """One raw RGB frame -> the model input ``[1, 3, 1, h, w]`` float32.

    Runs ``transforms`` (mmcv/mmaction transform configs, e.g. the test
    pipeline's steps after decoding) on a one-frame clip, then
    ``(x - mean) / std`` (ActionDataPreprocessor's formula; ``to_rgb`` swaps
    channels first, as it does).
    """

    def __init__(self, transforms: Sequence[dict],
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, to_rgb: bool = False):
        from mmaction.registry import TRANSFORMS
        from mmaction.utils import register_all_modules
        from mmcv.transforms import Compose
        register_all_modules(init_default_scope=False)
        self.transforms_cfg = [dict(t) for t in transforms]
        if not any(t.get('type') == 'FormatShape' for t in transforms):
            self.transforms_cfg.append(
                dict(type='FormatShape', input_format='NCTHW'))
        fmt = _find(self.transforms_cfg, 'FormatShape')
        if fmt.get('input_format') != 'NCTHW':
            raise ValueError(f'online recognition needs FormatShape('
                             f"input_format='NCTHW'), the pipeline has {fmt}")
        self.compose = Compose([TRANSFORMS.build(t)
                                for t in self.transforms_cfg])
        self.mean = None if mean is None else \
            torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1, 1)
        self.std = None if std is None else \
            torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1, 1)
        self.to_rgb = to_rgb
        self.output_size: Optional[Tuple[int, int]] = None

    @classmethod
    def from_config(cls, cfg: Config) -> 'FramePipeline':
        transforms = frame_transforms(test_pipeline(cfg))
        return cls(transforms, *_mean_std(cfg.model.get('data_preprocessor')))

    @classmethod
    def from_meta(cls, meta: dict) -> 'FramePipeline':
        """From an exported model's ``meta.json`` (its preprocessing)."""
        pre = meta['preprocessing']
        if pre.get('adapted'):  # exported for another size than the config
            transforms = []
            if pre.get('resize'):
                size = pre['resize']['size']
                transforms.append(
                    dict(type='Resize', scale=(-1, int(size)))
                    if pre['resize']['type'] == 'short_side' else
                    dict(type='Resize', scale=(size[1], size[0]),
                         keep_ratio=False))
            if pre.get('crop'):
                h, w = pre['crop']['size']
                transforms.append(dict(type='CenterCrop', crop_size=(w, h)))
        else:  # JSON made the config's tuples lists: mmaction wants tuples
            transforms = [{k: tuple(v) if isinstance(v, list) else v
                           for k, v in step.items()}
                          for step in frame_transforms(pre['test_pipeline'],
                                                       'the exported model')]
        return cls(transforms, pre.get('mean'), pre.get('std'))

    def __call__(self, frame) -> Tensor:
        frame = check_frame(frame)
        h, w = frame.shape[:2]
        results = self.compose(dict(
            imgs=[frame], img_shape=(h, w), original_shape=(h, w),
            num_clips=1, clip_len=1, frame_inds=np.array([0]), start_index=0,
            modality='RGB'))
        x = torch.from_numpy(np.ascontiguousarray(results['imgs']))
        if x.dim() != 5 or x.shape[0] != 1:
            raise ValueError(f'the frame pipeline gives {x.shape[0]} views '
                             'of a frame: online recognition needs one '
                             '(CenterCrop, not ThreeCrop/TenCrop)')
        x = x.float()
        if self.to_rgb:
            x = x[:, [2, 1, 0]]
        if self.mean is not None:
            x = (x - self.mean) / self.std
        size = tuple(x.shape[-2:])
        if self.output_size is None:
            self.output_size = size
        elif size != self.output_size:
            raise FrameError(f'a frame of {h}x{w} becomes {size[0]}x'
                             f'{size[1]}, earlier frames {self.output_size[0]}'
                             f'x{self.output_size[1]}: keep the frame size '
                             'within a stream (reset() between videos)')
        return x


def _causal_check(model) -> None:
    backbone = getattr(model, 'backbone', None)
    if backbone is not None and not getattr(backbone, 'causal', False):
        raise ValueError('online recognition needs a causal (stream) MoViNet;'
                         ' this is a base model: use a *_stream_* config')
    if not callable(getattr(model, 'stream_step', None)):
        raise ValueError(f'{type(model).__name__} has no stream_step(inputs,'
                         ' state): online recognition needs a stream model '
                         'or an exported stream runtime')


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
    those of the whole clip up to t.
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
        return self.last_logits.softmax(-1)


class OnlineEnsemble:
    """An ``EnsembleRecognizer`` online: each member on its own frames.

    Member i takes the raw frames its pipeline branch samples (``frame
    interval``, ``offset``: the even and odd frames of a half-rate pair) and
    keeps its own state; the prediction is the softmax of the mean of the
    members' latest raw logits (the ensemble's rule), so after a video's last
    frame it is what the stream test loop gives. Feed every raw frame.
    """

    def __init__(self, members: Sequence[OnlineRecognizer],
                 samplings: Sequence[Tuple[int, int]]):
        if len(members) != len(samplings) or len(members) < 2:
            raise ValueError('an online ensemble needs >= 2 members, one '
                             'sampling (frame interval, offset) each')
        self.members = list(members)
        self.samplings = [tuple(s) for s in samplings]
        self.frames_seen = 0

    @classmethod
    def from_config(cls, model, cfg: Config, device='cpu'):
        branches = {}
        for step in test_pipeline(cfg):
            if step.get('type') == 'KeyMapper':
                for key in (step.get('remapping') or {}).values():
                    branches[key] = step
        explicit = (cfg.model.get('data_preprocessor') or {}).get(
            'preprocessors', {})
        members, samplings = [], []
        for i, (member, key) in enumerate(zip(model.members,
                                              model.input_keys)):
            if key not in branches:
                raise ValueError(f'no pipeline branch (KeyMapper) writes '
                                 f'{key!r}, the input of ensemble member {i}')
            transforms = branches[key]['transforms']
            pre = explicit.get(key) or \
                cfg.model.members[i].get('data_preprocessor')
            members.append(OnlineRecognizer(
                member, FramePipeline(frame_transforms(
                    transforms, f'the branch of {key!r}'), *_mean_std(pre)),
                device))
            samplings.append(config_sampling(list(transforms)))
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
        return self.last_logits.softmax(-1) if takers else None


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
    eval mode. Returns ``(model, cfg)``."""
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
        load_checked_checkpoint(model, checkpoint, strict=strict)
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


def read_video_frames(path: str) -> Iterator[np.ndarray]:
    """Frames of a video file, decoded one at a time with decord.

    The file is opened by path and checked first (``open_video``): a
    missing, empty, truncated or undecodable file is an
    ``UnreadableVideoError`` naming it; a frame that fails later is too.
    """
    from ..datasets.transforms.video import (UnreadableVideoError,
                                             _first_line, open_video)
    reader = open_video(path, num_threads=1)
    for index in range(len(reader)):
        try:
            frame = reader[index].asnumpy()
        except Exception as error:  # noqa: BLE001  (decord's own types)
            raise UnreadableVideoError(
                path, f'frame {index} of {len(reader)} does not decode '
                f'({_first_line(error)})') from None
        yield frame


def video_frame_count(path: str) -> int:
    """The number of frames of a (checked) video file."""
    from ..datasets.transforms.video import open_video
    return len(open_video(path, num_threads=1))


def config_sampling(cfg_or_pipeline) -> Tuple[int, int]:
    """``(frame_interval, offset)`` of the test pipeline's sampler (at its
    top level; (1, 0) for an ensemble, whose branches sample)."""
    pipeline = cfg_or_pipeline if isinstance(cfg_or_pipeline, list) else \
        test_pipeline(cfg_or_pipeline)
    step = _find(pipeline, *SAMPLERS)
    if step is None:
        return 1, 0
    return int(step.get('frame_interval', 1)), int(step.get('offset', 0))


def config_frame_interval(cfg: Config) -> int:
    return config_sampling(cfg)[0]
