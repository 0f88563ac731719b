from .movinet_recognizer import MoViNetRecognizer

__all__ = ['MoViNetRecognizer']
