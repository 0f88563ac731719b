"""movinet_mm: MoViNets for MMAction2.

Importing the package first applies the small compatibility fixes of
:mod:`movinet_mm.compat` (they must run before ``mmaction.models`` is
imported), then registers the MoViNet modules in MMAction2's registries.
"""
from . import compat  # noqa: F401  (must come first)
from .datasets import *  # noqa: F401,F403,E402
from .engine import *  # noqa: F401,F403,E402
from .models import *  # noqa: F401,F403,E402
from .version import __version__  # noqa: E402

__all__ = ['MoViNet', 'MoViNetHead', 'MoViNetRecognizer', 'convert_conv_type',
           'StreamTestLoop', 'StreamValLoop', 'StreamEvalHook', 'SampleAllFrames',
           '__version__']
