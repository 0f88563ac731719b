from .sampling import SampleAllFrames

__all__ = ['SampleAllFrames']
