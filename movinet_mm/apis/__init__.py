from .online import (BACKENDS, FrameError, FramePipeline, OnlineEnsemble,
                     OnlineRecognizer, online_recognizer,
                     check_frame, config_frame_interval, config_sampling,
                     frame_transforms, init_recognizer, read_video_frames,
                     recognize_frames, sampled_frames, video_frame_count)

__all__ = [
    'BACKENDS', 'FrameError', 'FramePipeline', 'OnlineEnsemble',
    'OnlineRecognizer', 'online_recognizer',
    'check_frame', 'config_frame_interval', 'config_sampling',
    'frame_transforms', 'init_recognizer', 'read_video_frames',
    'recognize_frames', 'sampled_frames', 'video_frame_count'
]
