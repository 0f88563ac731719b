from .stream_eval_hook import StreamEvalHook

__all__ = ['StreamEvalHook']
