from .sampling import SampleAllFrames, ShiftFrameIndices
from .shuffle import ShuffleFrames
from .video import UnreadableVideoError, VideoDecode, VideoInit, open_video

__all__ = ['SampleAllFrames', 'ShiftFrameIndices', 'ShuffleFrames',
           'UnreadableVideoError', 'VideoDecode', 'VideoInit', 'open_video']
