from .ensemble_recognizer import EnsembleRecognizer
from .movinet_recognizer import MoViNetRecognizer

__all__ = ['EnsembleRecognizer', 'MoViNetRecognizer']
