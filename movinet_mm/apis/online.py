"""Online recognition: frames in, running predictions out, constant memory.

``OnlineRecognizer`` is the stateful convenience over the explicit-state
``MoViNetRecognizer.stream_step``: it owns one stream state, preprocesses
raw RGB frames the way the config's test pipeline does (short-side resize,
center crop, the data preprocessor's mean/std) and returns class
probabilities after every frame fed.
"""
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import Tensor

from ..models.layers import StreamState


def _find(pipeline: Sequence[dict], *types: str) -> Optional[dict]:
    for step in pipeline:
        if step.get('type') in types:
            return step
    return None


class FramePreprocessor:
    """Resize the short side, center crop, normalise: one RGB frame at a time."""

    def __init__(self, short_side: int, crop_size: Tuple[int, int],
                 mean: Sequence[float], std: Sequence[float]):
        self.short_side = short_side
        self.crop_size = crop_size
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    @classmethod
    def from_config(cls, cfg: Config) -> 'FramePreprocessor':
        pipeline = cfg.get('test_pipeline') or \
            cfg.test_dataloader.dataset.pipeline
        crop = _find(pipeline, 'CenterCrop')
        resize = _find(pipeline, 'Resize')
        if crop is None:
            raise ValueError('the config test pipeline has no CenterCrop: '
                             'cannot tell the frame size the model expects')
        crop_size = crop['crop_size']
        crop_size = (crop_size, crop_size) if isinstance(crop_size, int) \
            else tuple(crop_size)[::-1]  # mmcv gives (w, h)
        short_side = min(crop_size)
        if resize is not None and -1 in tuple(resize.get('scale', ())):
            short_side = max(resize['scale'])
        pre = cfg.model.get('data_preprocessor', {})
        mean = pre.get('mean', [0.0, 0.0, 0.0])
        std = pre.get('std', [255.0, 255.0, 255.0])
        return cls(short_side, crop_size, mean, std)

    def __call__(self, frame: np.ndarray) -> Tensor:
        """``[H, W, 3]`` uint8 RGB -> ``[3, h, w]`` float."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError('frames must be [H, W, 3] RGB arrays, got shape '
                             f'{frame.shape}')
        x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)
        x = x.float().unsqueeze(0)
        h, w = x.shape[-2:]
        scale = self.short_side / min(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        ch, cw = self.crop_size
        top, left = (size[0] - ch) // 2, (size[1] - cw) // 2
        if top < 0 or left < 0:
            raise ValueError(f'frame of {h}x{w} is too small for a {ch}x{cw} '
                             'crop')
        x = x[0, :, top:top + ch, left:left + cw]
        return (x - self.mean) / self.std


class OnlineRecognizer:
    """Feed frames one by one (or a few at a time); get running predictions.

    Example::

        model = init_recognizer('configs/movinet_a0_stream_k600.py', ckpt)
        online = OnlineRecognizer.from_config(model, cfg)
        for frame in camera:               # [H, W, 3] uint8 RGB
            probs = online.update(frame)   # [num_classes]
        online.reset()                     # before the next video

    The predictions after frame t are those of the whole clip up to t.
    """

    def __init__(self, model: torch.nn.Module,
                 preprocess: FramePreprocessor,
                 device: Union[str, torch.device] = 'cpu'):
        if not getattr(model.backbone, 'causal', False):
            raise ValueError('online recognition needs a causal (stream) '
                             'MoViNet')
        self.model = model.eval()
        self.preprocess = preprocess
        self.device = torch.device(device)
        self.state: Optional[StreamState] = None
        self.frames_seen = 0

    @classmethod
    def from_config(cls, model, cfg: Config, device='cpu'):
        return cls(model, FramePreprocessor.from_config(cfg), device)

    def reset(self) -> None:
        self.state = None
        self.frames_seen = 0

    @torch.no_grad()
    def update(self, frames: Union[np.ndarray, Sequence[np.ndarray]]) -> Tensor:
        """Feed one ``[H, W, 3]`` frame or several; returns probabilities."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        clip = torch.stack([self.preprocess(f) for f in frames], dim=1)
        clip = clip.unsqueeze(0).to(self.device)
        logits, self.state = self.model.stream_step(clip, self.state)
        self.frames_seen += len(frames)
        return logits[0].softmax(-1).cpu()


def init_recognizer(config: Union[str, Config], checkpoint: Optional[str] = None,
                    device: Union[str, torch.device] = 'cpu'):
    """Build the config's model, load ``checkpoint``, put it in eval mode."""
    from mmaction.utils import register_all_modules
    from mmengine.registry import MODELS
    from mmengine.runner import load_checkpoint

    import movinet_mm  # noqa: F401  (registers the modules)
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(device).eval(), cfg


def sampled_frames(frames: Iterable[np.ndarray], frame_interval: int = 1
                   ) -> Iterator[Tuple[int, np.ndarray]]:
    """Every ``frame_interval``-th frame of any iterable (a file, a camera)."""
    for index, frame in enumerate(frames):
        if index % frame_interval == 0:
            yield index, frame


def recognize_frames(online: OnlineRecognizer, frames: Iterable[np.ndarray],
                     frame_interval: int = 1
                     ) -> Iterator[Tuple[int, Tensor]]:
    """``(frame index, probabilities)`` after each sampled frame."""
    online.reset()
    for index, frame in sampled_frames(frames, frame_interval):
        yield index, online.update(frame)


def read_video_frames(path: str) -> Iterator[np.ndarray]:
    """Frames of a video file, decoded one at a time with decord."""
    import decord
    try:
        reader = decord.VideoReader(path, num_threads=1)
    except Exception as error:  # decord raises its own error types
        raise RuntimeError(f'cannot read video {path}: {error}') from error
    for index in range(len(reader)):
        yield reader[index].asnumpy()


def config_frame_interval(cfg: Config) -> int:
    pipeline = cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline
    step = _find(pipeline, 'SampleAllFrames', 'SampleFrames')
    return int(step.get('frame_interval', 1)) if step else 1
