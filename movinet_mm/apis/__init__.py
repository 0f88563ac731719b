from ..datasets.frames import (
    FrameError,
    FramePipeline,
    check_frame,
    config_sampling,
    frame_transforms,
    read_video_frames,
    video_frame_count,
)
from .online import (
    BACKENDS,
    OnlineEnsemble,
    OnlineRecognizer,
    config_frame_interval,
    init_recognizer,
    online_recognizer,
    recognize_frames,
    sampled_frames,
)

__all__ = [
    'BACKENDS', 'FrameError', 'FramePipeline', 'OnlineEnsemble',
    'OnlineRecognizer', 'online_recognizer',
    'check_frame', 'config_frame_interval', 'config_sampling',
    'frame_transforms', 'init_recognizer', 'read_video_frames',
    'recognize_frames', 'sampled_frames', 'video_frame_count'
]
