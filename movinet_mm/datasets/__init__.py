from .transforms import *  # noqa: F401,F403
from .video_dataset import AnnotationError, VideoDataset  # noqa: F401
