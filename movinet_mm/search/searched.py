"""Build the recognizer of a searched architecture file (``searched_arch.json``)."""
from typing import Optional

from mmaction.registry import MODELS

from .loop import load_result
from .space import Architecture
from .supernet import recognizer_cfg


@MODELS.register_module()
def SearchedMoViNetRecognizer(arch_file: str,
                              num_classes: Optional[int] = None,
                              dropout_ratio: Optional[float] = None,
                              label_smooth_eps: float = 0.0):
    """The ``MoViNetRecognizer`` of the architecture a search wrote, with
    the network settings it was searched with, trained from scratch.

    ``arch_file``: a ``searched_arch.json`` (a clear error when missing).
    The config's pipelines give the input; the file records the searched
    frames / stride / resolution (``searched_config.py`` in the search's
    work dir has them set).
    """
    result = load_result(arch_file)
    arch = Architecture.from_dict(result['architecture'])
    cfg = recognizer_cfg(
        arch, num_classes or result['num_classes'], result['network'],
        result.get('norm_cfg'),
        result.get('dropout_ratio', 0.2) if dropout_ratio is None else
        dropout_ratio, label_smooth_eps)
    return MODELS.build(cfg)
