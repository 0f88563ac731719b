"""Destroying frame order on purpose: the control for temporal reasoning."""
import zlib
from typing import Optional

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class ShuffleFrames(BaseTransform):
    """Randomly permute the sampled frame indices within each clip.

    Put it after a sampler (``SampleFrames``, ``SampleAllFrames``) and before
    ``DecordDecode``: the clip keeps the same frames, in a random order. A
    model trained and tested this way can only use what the frames show, not
    the order in which they come; comparing it with the same model on
    ordered clips measures how much it relies on temporal order (the
    control run of ``configs/movinet_a0_stream_synthetic_shuffled.py``).

    Required keys: ``frame_inds``, ``clip_len``, ``num_clips``. Modified:
    ``frame_inds``.

    Args:
        seed (int, optional): None draws a new permutation each time from
            NumPy's global generator (seeded per worker by MMEngine). An
            int makes the permutation a function of the seed and the video
            (its ``filename``), e.g. for a fixed shuffled test set.
    """

    def __init__(self, seed: Optional[int] = None):
        self.seed = seed

    def _rng(self, results: dict):
        if self.seed is None:
            return np.random
        key = str(results.get('filename', results.get('frame_dir', '')))
        return np.random.RandomState(
            [self.seed & 0xFFFFFFFF, zlib.crc32(key.encode())])

    def transform(self, results: dict) -> dict:
        inds = np.asarray(results['frame_inds'])
        clips = int(results.get('num_clips', 1))
        if inds.size % clips:
            raise ValueError(f'{inds.size} frame indices do not split into '
                             f'{clips} clips')
        rng = self._rng(results)
        per_clip = inds.reshape(clips, -1).copy()
        for clip in per_clip:
            rng.shuffle(clip)
        results['frame_inds'] = per_clip.reshape(inds.shape)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(seed={self.seed})'
