"""Frame preprocessing: decoded RGB frames -> the model input, one implementation.

The online API, int8 calibration and the evaluation of exported models all
prepare frames with :class:`FramePipeline`: the config's test pipeline after
decoding (``Resize``, ``CenterCrop``, ``FormatShape``, ...), applied by
MMCV/MMAction2 to a one-frame clip, then the model's data preprocessor's
``(x - mean) / std``. It is built from a config (:meth:`FramePipeline.
from_config`) or from the ``preprocessing`` of an exported model's
``meta.json`` (:meth:`FramePipeline.from_meta`), which
:func:`describe_preprocessing` writes.

Frames: ``uint8`` RGB ``[H, W, 3]`` (numpy or torch), as decord, PIL or
OpenCV (after BGR -> RGB) give them. Anything else (float frames, whose
range cannot be told, grayscale, other channel counts) is refused with a
one-line :class:`FrameError`.
"""
import json
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..utils.errors import DeployError, UnreadableVideoError
from .transforms.video import _first_line, open_video

DECODE_SUFFIX = 'Decode'  # VideoDecode, DecordDecode, PyAVDecode, ...
SAMPLERS = ('SampleAllFrames', 'SampleFrames', 'UniformSample')


class FrameError(ValueError):
    """A frame that cannot be prepared; the message says why."""


# ------------------------------------------------------------ the config
def test_pipeline(cfg) -> List[dict]:
    pipeline = cfg.get('test_pipeline')
    if not pipeline:
        pipeline = cfg.test_dataloader.dataset.get('pipeline', [])
    return [dict(step) for step in pipeline]


def find_step(pipeline: Sequence[dict], *types: str) -> Optional[dict]:
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


def config_sampling(cfg_or_pipeline) -> Tuple[int, int]:
    """``(frame_interval, offset)`` of the test pipeline's sampler (at its
    top level; (1, 0) for an ensemble, whose branches sample); the offset
    includes any ``ShiftFrameIndices`` after it."""
    pipeline = cfg_or_pipeline if isinstance(cfg_or_pipeline, list) else \
        test_pipeline(cfg_or_pipeline)
    step = find_step(pipeline, *SAMPLERS)
    if step is None:
        return 1, 0
    shift = sum(int(s.get('offset', 0)) for s in pipeline
                if s.get('type') == 'ShiftFrameIndices')
    return int(step.get('frame_interval', 1)), \
        int(step.get('offset', 0)) + shift


def ensemble_branches(cfg) -> List[Tuple[str, List[dict], Optional[dict]]]:
    """``(input key, pipeline, data preprocessor)`` of each member of an
    ``EnsembleRecognizer`` config, in member order: the pipeline is the test
    pipeline's steps before the branches, then the member's branch (the
    ``KeyMapper`` writing its input key)."""
    head, branches = [], {}
    for step in test_pipeline(cfg):
        if step.get('type') == 'KeyMapper':
            for key in (step.get('remapping') or {}).values():
                branches[key] = step
        elif not branches:
            head.append(dict(step))
    explicit = (cfg.model.get('data_preprocessor') or {}).get(
        'preprocessors', {})
    out = []
    for i, (key, member) in enumerate(zip(cfg.model.input_keys,
                                          cfg.model.members)):
        if key not in branches:
            raise ValueError(f'no pipeline branch (KeyMapper) writes '
                             f'{key!r}, the input of ensemble member {i}')
        out.append((key, head + [dict(t) for t in branches[key]['transforms']],
                    explicit.get(key) or member.get('data_preprocessor')))
    return out


def normalisation(data_preprocessor: Optional[dict]):
    """``(mean, std, to_rgb)`` of an ``ActionDataPreprocessor`` config
    (mean and std None when it does not normalise)."""
    pre = data_preprocessor or {}
    if pre.get('type', 'ActionDataPreprocessor') != 'ActionDataPreprocessor':
        raise ValueError(f'frames are normalised like '
                         f"ActionDataPreprocessor; the model has "
                         f"{pre.get('type')}")
    if pre.get('mean') is None:
        return None, None, bool(pre.get('to_rgb', False))
    return ([float(v) for v in pre['mean']], [float(v) for v in pre['std']],
            bool(pre.get('to_rgb', False)))


# ------------------------------------------------------ meta.json description
def _hw(size) -> List[int]:
    """mmcv sizes are (w, h) or one int."""
    if isinstance(size, int):
        return [size, size]
    w, h = size
    return [int(h), int(w)]


def describe_preprocessing(cfg, frame_size: Sequence[int]) -> Dict[str, Any]:
    """The ``preprocessing`` of ``meta.json``: ``cfg``'s test-time
    preprocessing for inputs of ``frame_size``.

    When the config's pipeline produces another size than ``frame_size`` the
    resize and crop are scaled to it. It is the one description of the
    preprocessing: :meth:`FramePipeline.from_meta` runs it.
    """
    pipeline = test_pipeline(cfg)
    frame_size = [int(s) for s in frame_size]
    resize_step = find_step(pipeline, 'Resize')
    crop_step = find_step(pipeline, 'CenterCrop')
    sampler = find_step(pipeline, *SAMPLERS)
    frame_interval, frame_offset = config_sampling(pipeline)
    resize = crop = None
    if resize_step is not None:
        scale = resize_step.get('scale')
        keep_ratio = resize_step.get('keep_ratio', True)
        if isinstance(scale, (tuple, list)) and -1 in tuple(scale):
            resize = dict(type='short_side', size=int(max(scale)))
        elif not keep_ratio and isinstance(scale, (tuple, list)):
            resize = dict(type='fixed', size=_hw(scale))
        else:
            raise DeployError(
                f'the test pipeline step {resize_step} cannot be described '
                'for a runtime; expected Resize(scale=(-1, S)) (short side) '
                'or Resize(scale=(W, H), keep_ratio=False)')
    if crop_step is not None:
        crop = dict(type='center', size=_hw(crop_step['crop_size']))
    produced = (crop['size'] if crop else
                resize['size'] if resize and resize['type'] == 'fixed'
                else None)
    if produced != frame_size:
        if crop is not None and resize is not None and \
                resize['type'] == 'short_side':
            ratio = resize['size'] / min(crop['size'])
            resize = dict(type='short_side',
                          size=int(round(min(frame_size) * ratio)))
            crop = dict(type='center', size=frame_size)
        elif resize is not None and resize['type'] == 'fixed' and crop is None:
            resize = dict(type='fixed', size=frame_size)
        else:
            resize = dict(type='short_side', size=min(frame_size))
            crop = dict(type='center', size=frame_size)
    mean, std, _ = normalisation(cfg.model.get('data_preprocessor'))
    return dict(
        color='RGB',
        input='uint8 RGB frames [H, W, 3] as decoded',
        resize=resize,
        crop=crop,
        interpolation=(resize_step or {}).get('interpolation', 'bilinear'),
        normalize='(x - mean) / std, per channel',
        mean=mean or [0.0, 0.0, 0.0],
        std=std or [1.0, 1.0, 1.0],
        layout='NCTHW',
        frame_interval=frame_interval,
        frame_offset=frame_offset,
        clip_len=sampler.get('clip_len') if sampler else None,
    )


def described_transforms(pre: Dict[str, Any]) -> List[dict]:
    """The mmcv transforms of a ``meta.json`` description."""
    interpolation = pre.get('interpolation') or 'bilinear'
    transforms = []
    resize = pre.get('resize')
    if resize:
        if resize['type'] == 'short_side':
            scale, keep_ratio = (-1, int(resize['size'])), True
        elif resize['type'] == 'fixed':
            h, w = resize['size']
            scale, keep_ratio = (int(w), int(h)), False
        else:
            raise DeployError(f'unknown resize {resize} in meta.json')
        transforms.append(dict(type='Resize', scale=scale,
                               keep_ratio=keep_ratio,
                               interpolation=interpolation))
    if pre.get('crop'):
        h, w = pre['crop']['size']
        transforms.append(dict(type='CenterCrop', crop_size=(int(w), int(h))))
    return transforms


def input_range(pre: Dict[str, Any]) -> Tuple[float, float]:
    """The lowest and highest model input of a ``meta.json`` description."""
    bounds = [((0.0 - m) / s, (255.0 - m) / s)
              for m, s in zip(pre['mean'], pre['std'])]
    return min(b[0] for b in bounds), max(b[1] for b in bounds)


# ------------------------------------------------------------------ frames
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
    channels first, as it does). ``frame_interval``, ``frame_offset``: the
    frames a video feeds (:meth:`frame_indices`); ``frame_size``: the
    ``(h, w)`` the model takes, checked when given.
    """

    def __init__(self, transforms: Sequence[dict],
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, to_rgb: bool = False,
                 frame_interval: int = 1,
                 frame_size: Optional[Sequence[int]] = None,
                 frame_offset: int = 0):
        from mmaction.registry import TRANSFORMS
        from mmaction.utils import register_all_modules
        from mmcv.transforms import Compose
        register_all_modules(init_default_scope=False)
        self.transforms_cfg = [dict(t) for t in transforms]
        if not any(t.get('type') == 'FormatShape' for t in transforms):
            self.transforms_cfg.append(
                dict(type='FormatShape', input_format='NCTHW'))
        fmt = find_step(self.transforms_cfg, 'FormatShape')
        if fmt.get('input_format') != 'NCTHW':
            raise ValueError(f'frames are prepared with FormatShape('
                             f"input_format='NCTHW'), the pipeline has {fmt}")
        self.compose = Compose([TRANSFORMS.build(t)
                                for t in self.transforms_cfg])
        self.mean = None if mean is None else \
            torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1, 1)
        self.std = None if std is None else \
            torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1, 1)
        self.to_rgb = to_rgb
        self.frame_interval = max(1, int(frame_interval))
        self.frame_offset = max(0, int(frame_offset))
        self.frame_size = None if frame_size is None else \
            tuple(int(s) for s in frame_size)
        self.key = json.dumps([self.transforms_cfg, mean, std, to_rgb,
                               self.frame_interval, self.frame_offset,
                               self.frame_size],
                              sort_keys=True, default=str)
        self.output_size: Optional[Tuple[int, int]] = None

    @classmethod
    def from_config(cls, cfg) -> 'FramePipeline':
        transforms = frame_transforms(test_pipeline(cfg))
        return cls(transforms,
                   *normalisation(cfg.model.get('data_preprocessor')),
                   frame_interval=config_sampling(cfg)[0],
                   frame_offset=config_sampling(cfg)[1])

    @classmethod
    def from_meta(cls, meta: Dict[str, Any]) -> 'FramePipeline':
        """From an exported model's ``meta.json`` (its preprocessing)."""
        return cls.from_description(meta.get('preprocessing'),
                                    meta['frame_size'])

    @classmethod
    def from_description(cls, pre: Optional[Dict[str, Any]],
                         frame_size: Optional[Sequence[int]] = None
                         ) -> 'FramePipeline':
        """From the ``preprocessing`` of a ``meta.json``."""
        if not pre:
            raise DeployError('meta.json has no preprocessing (exported '
                              'without a config): cannot prepare frames for '
                              'this model')
        return cls(described_transforms(pre), pre.get('mean'),
                   pre.get('std'),
                   frame_interval=pre.get('frame_interval') or 1,
                   frame_size=frame_size,
                   frame_offset=pre.get('frame_offset') or 0)

    def frame_indices(self, total: int) -> np.ndarray:
        """The frames of a ``total``-frame video that are fed."""
        return np.arange(self.frame_offset, total, self.frame_interval)

    def _prepare(self, frame) -> Tensor:
        frame = check_frame(frame)
        h, w = frame.shape[:2]
        results = self.compose(dict(
            imgs=[frame], img_shape=(h, w), original_shape=(h, w),
            num_clips=1, clip_len=1, frame_inds=np.array([0]), start_index=0,
            modality='RGB'))
        x = torch.from_numpy(np.ascontiguousarray(results['imgs']))
        if x.dim() != 5 or x.shape[0] != 1:
            raise ValueError(f'the frame pipeline gives {x.shape[0]} views '
                             'of a frame: one is needed (CenterCrop, not '
                             'ThreeCrop/TenCrop)')
        x = x.float()
        if self.to_rgb:
            x = x[:, [2, 1, 0]]
        if self.mean is not None:
            x = (x - self.mean) / self.std
        if self.frame_size is not None and \
                tuple(x.shape[-2:]) != self.frame_size:
            raise DeployError(
                f'preprocessing gave {x.shape[-2]}x{x.shape[-1]} frames, the '
                f'model takes {self.frame_size[0]}x{self.frame_size[1]}')
        return x

    def __call__(self, frame) -> Tensor:
        """One frame of a stream: its size must stay that of the first."""
        frame = check_frame(frame)
        x = self._prepare(frame)
        size = tuple(x.shape[-2:])
        if self.output_size is None:
            self.output_size = size
        elif size != self.output_size:
            h, w = frame.shape[:2]
            raise FrameError(f'a frame of {h}x{w} becomes {size[0]}x'
                             f'{size[1]}, earlier frames {self.output_size[0]}'
                             f'x{self.output_size[1]}: keep the frame size '
                             'within a stream (reset() between videos)')
        return x

    def clip(self, frames) -> np.ndarray:
        """``[T, H, W, 3]`` frames (already sampled) -> ``[1, 3, T, h, w]``."""
        return torch.cat([self._prepare(f) for f in frames], dim=2).numpy()


# ------------------------------------------------------------------ videos
def read_video_frames(path: str) -> Iterator[np.ndarray]:
    """Frames of a video file, decoded one at a time with decord.

    The file is opened by path and checked first (``open_video``): a
    missing, empty, truncated or undecodable file is an
    ``UnreadableVideoError`` naming it; a frame that fails later is too.
    """
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
    return len(open_video(path, num_threads=1))


def read_video(path: str, pipeline: FramePipeline,
               max_frames: Optional[int] = None) -> np.ndarray:
    """The sampled, preprocessed frames of a video, ``[1, 3, T, h, w]``."""
    reader = open_video(path, num_threads=1)
    indices = pipeline.frame_indices(len(reader))
    if max_frames is not None:
        indices = indices[:max_frames]
    if len(indices) == 0:
        raise UnreadableVideoError(path, 'no frames to read')
    try:
        frames = reader.get_batch(list(indices)).asnumpy()
    except Exception as error:  # noqa: BLE001  (decord's own types)
        raise UnreadableVideoError(
            path, f'frames {int(indices[0])}-{int(indices[-1])} do not '
            f'decode ({_first_line(error)})') from None
    return pipeline.clip(frames)


__all__ = ['FrameError', 'FramePipeline', 'check_frame', 'config_sampling',
           'describe_preprocessing', 'described_transforms', 'find_step',
           'frame_transforms', 'input_range', 'normalisation',
           'read_video', 'read_video_frames', 'test_pipeline',
           'video_frame_count']
