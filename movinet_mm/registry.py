"""The ``movinet_mm`` registry scope: children of MMAction2's registries.

A config that inherits a movinet_mm config through the package scope, as
MMAction2 users inherit ``mmaction::`` configs::

    _base_ = 'movinet_mm::finetune/movinet_a0_ucf101_split1.py'

gets MMEngine's scope ``movinet_mm`` on every component of that base, and
MMEngine then looks the types up in ``movinet_mm.registry``. These
registries hold nothing of their own: every lookup falls through to
MMAction2's (where movinet_mm registers its modules) and MMEngine's.
:mod:`movinet_mm.compat` tells MMEngine the package name of the scope.
"""
from mmaction import registry as mmaction
from mmengine.registry import Registry

SCOPE = 'movinet_mm'


def _child(parent: Registry) -> Registry:
    # a lookup falls through to the parent's modules, not its lazy
    # imports: import them as the parent would
    return Registry(parent.name, parent=parent, scope=SCOPE,
                    locations=['movinet_mm', *parent._locations])


RUNNERS = _child(mmaction.RUNNERS)
RUNNER_CONSTRUCTORS = _child(mmaction.RUNNER_CONSTRUCTORS)
LOOPS = _child(mmaction.LOOPS)
HOOKS = _child(mmaction.HOOKS)
DATASETS = _child(mmaction.DATASETS)
DATA_SAMPLERS = _child(mmaction.DATA_SAMPLERS)
TRANSFORMS = _child(mmaction.TRANSFORMS)
MODELS = _child(mmaction.MODELS)
MODEL_WRAPPERS = _child(mmaction.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child(mmaction.WEIGHT_INITIALIZERS)
OPTIMIZERS = _child(mmaction.OPTIMIZERS)
OPTIM_WRAPPERS = _child(mmaction.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child(mmaction.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child(mmaction.PARAM_SCHEDULERS)
METRICS = _child(mmaction.METRICS)
EVALUATOR = _child(mmaction.EVALUATOR)
TASK_UTILS = _child(mmaction.TASK_UTILS)
VISUALIZERS = _child(mmaction.VISUALIZERS)
VISBACKENDS = _child(mmaction.VISBACKENDS)
LOG_PROCESSORS = _child(mmaction.LOG_PROCESSORS)
INFERENCERS = _child(mmaction.INFERENCERS)
FUNCTION = _child(mmaction.FUNCTION)
TOKENIZER = _child(mmaction.TOKENIZER)
