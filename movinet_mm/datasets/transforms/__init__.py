from .sampling import SampleAllFrames, ShiftFrameIndices
from .shuffle import ShuffleFrames

__all__ = ['SampleAllFrames', 'ShiftFrameIndices', 'ShuffleFrames']
