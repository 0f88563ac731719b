"""Small generated videos for tests of the real video path (OpenCV writes, decord reads)."""
import os.path as osp

import numpy as np


def write_video(path: str, frames: np.ndarray, fps: int = 25) -> str:
    """Write ``frames`` ``[T, H, W, 3]`` uint8 (RGB) as an MJPG .avi file.

    decord 0.6 fails on some frame sizes (48 px wide among them): keep to
    sizes the tests use (32, 40, 64).
    """
    import cv2
    t, h, w, _ = frames.shape
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps,
                             (w, h))
    if not writer.isOpened():
        raise RuntimeError('OpenCV cannot write MJPG videos here')
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return path


def moving_square(num_frames: int, size: int = 40, seed: int = 0,
                  step: int = 2) -> np.ndarray:
    """A bright square moving right over a noisy background."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, (num_frames, size, size, 3), dtype=np.uint8)
    color = rng.integers(150, 255, 3, dtype=np.uint8)
    for t in range(num_frames):
        x = (seed * 3 + t * step) % (size - 10)
        frames[t, 10:20, x:x + 10] = color
    return frames


def write_dataset(root: str, lengths, size: int = 40, labels=None) -> str:
    """Videos of the given lengths and a VideoDataset annotation file."""
    lines = []
    for i, length in enumerate(lengths):
        name = f'video_{i}.avi'
        write_video(osp.join(root, name), moving_square(length, size, seed=i))
        label = labels[i] if labels is not None else i % 3
        lines.append(f'{name} {label}\n')
    ann_file = osp.join(root, 'ann.txt')
    with open(ann_file, 'w') as f:
        f.writelines(lines)
    return ann_file
