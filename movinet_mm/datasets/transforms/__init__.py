from .sampling import SampleAllFrames, ShiftFrameIndices

__all__ = ['SampleAllFrames', 'ShiftFrameIndices']
