"""Frame sampling for streaming: every frame of a video at a fixed stride."""
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class SampleAllFrames(BaseTransform):
    """Sample a whole video, one frame every ``frame_interval``.

    For the stream loops: the clip is the whole video (``num_clips=1``,
    ``clip_len`` = the number of sampled frames), so a causal model sees
    every frame once, as a stream. ``frame_interval=5`` on 25 fps video
    gives the 5 fps of the official Kinetics models.

    Required keys: ``total_frames``, ``start_index``. Added: ``frame_inds``,
    ``clip_len``, ``frame_interval``, ``num_clips``.

    Args:
        frame_interval (int): temporal stride.
        max_frames (int, optional): keep at most this many frames (from the
            start); None keeps all.
        offset (int): index of the first sampled frame (e.g. 1 for the odd
            frames of a half-rate ensemble member).
    """

    def __init__(self, frame_interval: int = 1, max_frames: int = None,
                 offset: int = 0):
        if frame_interval < 1 or offset < 0:
            raise ValueError('frame_interval must be >= 1 and offset >= 0, '
                             f'got {frame_interval} and {offset}')
        if max_frames is not None and max_frames < 1:
            raise ValueError(f'max_frames must be >= 1, got {max_frames}')
        self.frame_interval = frame_interval
        self.max_frames = max_frames
        self.offset = offset

    def transform(self, results: dict) -> dict:
        total = int(results['total_frames'])
        inds = np.arange(self.offset, total, self.frame_interval)
        if self.max_frames is not None:
            inds = inds[:self.max_frames]
        if inds.size == 0:
            raise ValueError(f'no frames to sample: the video has {total} '
                             f'frames (offset {self.offset})')
        results['frame_inds'] = inds + results.get('start_index', 0)
        results['clip_len'] = int(inds.size)
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = 1
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(frame_interval='
                f'{self.frame_interval}, max_frames={self.max_frames}, '
                f'offset={self.offset})')


@TRANSFORMS.register_module()
class ShiftFrameIndices(BaseTransform):
    """Shift sampled frame indices by ``offset`` frames (clipped to the video).

    Put it after ``SampleFrames`` to give an ensemble member the frames in
    between another member's: with ``frame_interval=10``, ``offset=5``
    samples the odd frames of the stride-5 grid (the MoViNet temporal
    ensemble recipe).

    Required keys: ``frame_inds``, ``total_frames``. Modified: ``frame_inds``.
    """

    def __init__(self, offset: int):
        self.offset = int(offset)

    def transform(self, results: dict) -> dict:
        last = int(results['total_frames']) - 1 + results.get('start_index', 0)
        results['frame_inds'] = np.minimum(
            np.asarray(results['frame_inds']) + self.offset, last)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(offset={self.offset})'
