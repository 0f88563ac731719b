"""The tiny MMEngine run of configs/movinet_a0_stream_k600.py: 4 short
videos, clips of 4 frames at 32x32 (shared by the runner and tool tests)."""
import copy
import os
import os.path as osp

import numpy as np
import pytest
from helpers import REPO

CONFIG = osp.join(REPO, 'configs', 'movinet_a0_stream_k600.py')
NUM_VIDEOS = 4
FRAMES = 12
SIZE = 40  # frame height and width
CLIP_LEN = 4
FRAME_INTERVAL = 2
RESOLUTION = 32  # the smallest frame MoViNet accepts
MAX_EPOCHS = 2


def _write_video(path, label, codec):
    import cv2
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), 25,
                             (SIZE, SIZE))
    if not writer.isOpened():
        return False
    rng = np.random.default_rng(label)
    base = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    for t in range(FRAMES):
        frame = np.roll(base, shift=t * (label + 1), axis=1)
        writer.write(np.ascontiguousarray(frame))
    writer.release()
    return osp.getsize(path) > 0


def make_tiny_videos(root):
    """Write NUM_VIDEOS short videos and a VideoDataset annotation file."""
    import decord
    os.makedirs(root, exist_ok=True)
    for codec, ext in (('mp4v', 'mp4'), ('MJPG', 'avi'), ('XVID', 'avi')):
        names = [f'video_{i}.{ext}' for i in range(NUM_VIDEOS)]
        try:
            ok = all(
                _write_video(osp.join(root, n), i, codec)
                for i, n in enumerate(names))
            ok = ok and all(
                len(decord.VideoReader(osp.join(root, n))) == FRAMES
                for n in names)
        except Exception:  # codec missing in this OpenCV/decord build
            ok = False
        if ok:
            break
    else:
        pytest.skip('no video codec that OpenCV writes and decord reads')
    ann_file = osp.join(root, 'tiny_list_videos.txt')
    with open(ann_file, 'w') as f:
        f.writelines(f'{n} {i}\n' for i, n in enumerate(names))
    return ann_file


def _tiny_pipeline(pipeline):
    """The config's pipeline with the tiny clip length and frame size."""
    pipeline = copy.deepcopy(pipeline)
    for step in pipeline:
        if step['type'] == 'SampleFrames':
            step['clip_len'] = CLIP_LEN
            step['frame_interval'] = FRAME_INTERVAL
        elif step['type'] == 'Resize':
            step['scale'] = ((RESOLUTION, RESOLUTION)
                             if step.get('keep_ratio') is False else
                             (-1, RESOLUTION + 4))
        elif step['type'] == 'CenterCrop':
            step['crop_size'] = RESOLUTION
    return pipeline


def tiny_config(data_root, ann_file, work_dir, experiment_name):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.ann_file = ann_file
        loader.dataset.data_prefix = dict(video=data_root)
        loader.dataset.pipeline = _tiny_pipeline(loader.dataset.pipeline)
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop',
        max_epochs=MAX_EPOCHS,
        val_begin=1,
        val_interval=1)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, save_best='auto')
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer = dict(
        type='ActionVisualizer', vis_backends=[dict(type='LocalVisBackend')])
    cfg.work_dir = work_dir
    cfg.experiment_name = experiment_name
    cfg.randomness = dict(seed=0)
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    return cfg
