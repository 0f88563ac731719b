from .stream_loop import StreamTestLoop, StreamValLoop

__all__ = ['StreamTestLoop', 'StreamValLoop']
