from .clip_loop import ClipTestLoop, ClipValLoop
from .stream_loop import StreamTestLoop, StreamValLoop

__all__ = ['ClipTestLoop', 'ClipValLoop', 'StreamTestLoop', 'StreamValLoop']
