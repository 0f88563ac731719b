from .online import (FramePreprocessor, OnlineRecognizer, config_frame_interval,
                     init_recognizer, read_video_frames, recognize_frames,
                     sampled_frames)

__all__ = [
    'FramePreprocessor', 'OnlineRecognizer', 'config_frame_interval',
    'init_recognizer', 'read_video_frames', 'recognize_frames',
    'sampled_frames'
]
