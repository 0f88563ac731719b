from .checked_load_runner import CheckedLoadRunner

__all__ = ['CheckedLoadRunner']
