"""Architecture search for MoViNets: the space, a cost model, a weight-sharing
supernet, the TuNAS controller and an MMEngine search loop, and compound
scaling. Importing it registers ``MoViNetSupernet``, ``TuNASSearchLoop`` and
``SearchedMoViNetRecognizer`` (configs: ``custom_imports``)."""
from .controller import Controller, absolute_reward, make_controller_optimizer
from .cost import cost_range, macs, total_macs
from .loop import TuNASSearchLoop, load_result, searched_config
from .ranking import check_same_space, kendall_tau, supernet_scores
from .scaling import Coefficients, compound_search, scale
from .searched import SearchedMoViNetRecognizer
from .space import (
    Architecture,
    SearchSpace,
    SearchSpaceError,
    arch_from_dict,
    arch_to_dict,
    indices_of,
    locate,
    round_width,
)
from .supernet import MoViNetSupernet, network_defaults, recognizer_cfg

__all__ = [
    'SearchSpace', 'SearchSpaceError', 'Architecture', 'arch_to_dict',
    'arch_from_dict', 'locate', 'indices_of', 'round_width', 'macs',
    'total_macs', 'cost_range', 'MoViNetSupernet', 'recognizer_cfg',
    'network_defaults', 'Controller', 'absolute_reward',
    'make_controller_optimizer', 'TuNASSearchLoop', 'searched_config',
    'load_result', 'SearchedMoViNetRecognizer', 'Coefficients', 'scale',
    'compound_search', 'kendall_tau', 'supernet_scores', 'check_same_space'
]
