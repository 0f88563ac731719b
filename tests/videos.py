"""Small generated videos for tests of the real video path (OpenCV writes,
decord reads)."""
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


def _frame_chunks(data: bytes):
    """``(offset, size)`` of each video frame chunk (``00dc``) of an AVI."""
    import struct
    movi = data.find(b'movi')
    chunks, at = [], movi + 4
    while True:
        at = data.find(b'00dc', at)
        if at < 0:
            return chunks
        size = struct.unpack('<I', data[at + 4:at + 8])[0]
        chunks.append((at, size))
        at += 8 + size


def write_broken_videos(root: str, size: int = 40, frames: int = 12):
    """Broken copies of a generated MJPG video, each named after what is wrong.

    ``truncated``: cut inside the first frame (as ``head -c``; MMAction2's
    DecordInit, which opens from memory, segfaults on it). ``garbled``: the
    container intact, each frame's JPEG data overwritten with random bytes.
    ``header_only``: the AVI header without frames. ``empty``: 0 bytes.
    ``garbage``: random bytes. ``truncated_late``: cut inside frame 5; its 5
    complete frames still decode (a shorter video, not a broken one).
    Returns ``{kind: path}``.
    """
    source = write_video(osp.join(root, '_source.avi'),
                         moving_square(frames, size, seed=7))
    with open(source, 'rb') as f:
        data = f.read()
    chunks = _frame_chunks(data)
    rng = np.random.default_rng(11)
    garbled = bytearray(data)
    for at, length in chunks:
        start = at + 8 + 4  # keep the JPEG start marker
        garbled[start:at + 8 + length] = rng.integers(
            0, 256, at + 8 + length - start, dtype=np.uint8).tobytes()
    first, fifth = chunks[0], chunks[5]
    contents = {
        'truncated': data[:first[0] + 8 + first[1] // 2],
        'garbled': bytes(garbled),
        'header_only': data[:data.find(b'movi') + 4],
        'empty': b'',
        'garbage': rng.integers(0, 256, 20000, dtype=np.uint8).tobytes(),
        'truncated_late': data[:fifth[0] + 8 + fifth[1] // 2],
    }
    paths = {}
    for kind, content in contents.items():
        paths[kind] = osp.join(root, f'{kind}.avi')
        with open(paths[kind], 'wb') as f:
            f.write(content)
    return paths


# What the loops gave the model, recorded by the `_RecordSeen` hook of
# `shipped_config` runs: file name -> pred_score, 'train_batches' -> sizes.
SEEN = {}


def _register_record_hook():
    from mmaction.registry import HOOKS
    from mmengine.hooks import Hook

    @HOOKS.register_module(name='_RecordSeen', force=True)
    class _RecordSeen(Hook):
        def after_test_iter(self, runner, batch_idx, data_batch=None,
                            outputs=None):
            for sample in outputs:
                SEEN[osp.basename(sample.filename)] = \
                    sample.pred_score.clone()

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            SEEN.setdefault('train_batches', []).append(
                len(data_batch['inputs']))


def shipped_config(name: str, root: str, ann_file: str, work_dir,
                   split: str = 'test'):
    """A config of configs/ run on test videos: its own pipeline, the data
    at ``root``/``ann_file``, batches of 2, one DataLoader worker (a crash
    in decoding fails the test instead of killing pytest), and the
    `_RecordSeen` hook filling ``SEEN``."""
    from mmengine.config import Config
    _register_record_hook()
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    cfg = Config.fromfile(osp.join(repo, 'configs', name))
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.custom_hooks = [dict(type='_RecordSeen')]
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo'))
    cfg.visualizer = None
    loader = cfg[f'{split}_dataloader']
    loader.update(batch_size=2, num_workers=1, persistent_workers=False)
    loader.dataset.update(ann_file=ann_file, data_prefix=dict(video=root))
    for step in loader.dataset.pipeline:  # name the predictions
        if step['type'] == 'PackActionInputs':
            step['meta_keys'] = ('img_shape', 'filename')
    return cfg
