"""Compatibility fixes for today's MMAction2 stack, applied on ``import movinet_mm``.

1. The PyPI wheel of mmaction2 1.2.0 lacks ``mmaction/models/localizers/drn``
   (no ``__init__.py`` upstream, so ``find_packages`` dropped it;
   open-mmlab/mmaction2#2714), yet ``mmaction.models.localizers`` imports it,
   which breaks every model build. When the folder is missing we register an
   empty stand-in module; a source checkout, which has it, is left alone. It
   must run before anything imports ``mmaction.models``.
2. mmaction2 1.2.0 imports ``importlib_metadata`` without declaring it; we
   install it, and fall back to the standard library's module otherwise.
3. mmengine 0.10.x calls ``torch.load`` without ``weights_only``. On
   torch >= 2.6 that default is True, and checkpoints written by MMEngine's
   ``CheckpointHook`` (which pickle the message hub) fail to load for
   ``--resume``/``load_from``. We re-register MMEngine's loaders: local files,
   the user's own checkpoints, load with ``weights_only=False`` (they are
   trusted like any pickle you wrote yourself); anything fetched from a URL
   loads with ``weights_only=True``, so it can never run pickled code.
   Released movinet_mm weights are tensor-only state dicts.
4. Distributed training without GPUs. MMEngine 0.10.7's launchers
   (``init_dist('pytorch' | 'slurm' | 'mpi')``) call ``torch.cuda.set_device``
   and the Runner builds ``MMDistributedDataParallel`` with CUDA
   ``device_ids`` and converts BN to ``SyncBatchNorm`` (``sync_bn``), which
   only runs on accelerators: multi-process CPU training
   (``--launcher pytorch`` with ``mim train -G 2``, ``torchrun``,
   ``tools/dist_train.sh``) fails. Only when ``torch.cuda.is_available()``
   is False (and no other accelerator is in use), we (a) skip
   ``set_device`` and initialise the process group with ``gloo`` (logged)
   when the config asks for ``nccl``, the MMAction2 default; (b) build
   ``MMDistributedDataParallel`` without ``device_ids`` for a CPU model;
   (c) keep plain BN for a CPU model (each process normalises its own
   batch). With CUDA nothing changes. The patch targets the module-level
   functions that ``mmengine.dist.init_dist`` and ``Runner.wrap_model`` look
   up at call time, so it applies as long as ``movinet_mm`` is imported
   before the Runner is built: ``tools/train.py`` imports it at the top and
   configs import it when parsed (``custom_imports``), before
   ``Runner.from_cfg`` -> ``setup_env`` -> ``init_dist``.
5. Inheriting our configs from outside the repository, as MMAction2 users
   inherit ``mmaction::`` ones: ``_base_ =
   'movinet_mm::finetune/movinet_a0_ucf101_split1.py'``. MMEngine reads such
   a base from the installed package's ``.mim/configs`` only for packages in
   its ``MODULE2PACKAGE`` table, which lists OpenMMLab's: we add
   ``movinet_mm`` (it works wherever movinet_mm is imported before the
   config is read: our tools, ``mim train/test movinet_mm``), and
   :mod:`movinet_mm.registry` gives the scope its registries.
"""
import importlib
import importlib.util
import os
import os.path as osp
import sys
import types

import torch


def _stub_missing_drn() -> bool:
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    root = list(spec.submodule_search_locations)[0]
    if osp.isdir(osp.join(root, 'models', 'localizers', 'drn')):
        return False
    name = 'mmaction.models.localizers.drn'
    if name in sys.modules:
        return False
    package = types.ModuleType(name)
    package.__path__ = []  # a package, so that '.drn.drn' resolves
    module = types.ModuleType(name + '.drn')

    class DRN:  # noqa: D401
        """Stand-in: DRN is missing from the mmaction2 1.2.0 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError('DRN is not shipped in the PyPI wheel of '
                              'mmaction2 1.2.0; install mmaction2 from '
                              'source to use it')

    module.DRN = DRN
    package.drn = module
    sys.modules[name] = package
    sys.modules[name + '.drn'] = module
    return True


def _ensure_importlib_metadata() -> None:
    try:
        importlib.import_module('importlib_metadata')
    except ImportError:
        import importlib.metadata as stdlib_metadata
        sys.modules['importlib_metadata'] = stdlib_metadata


def load_from_local_trusted(filename, map_location=None):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def load_from_http_weights_only(filename, map_location=None, model_dir=None,
                          progress=os.isatty(0)):
    from mmengine.dist import get_dist_info

    rank, world_size = get_dist_info()

    def fetch():
        return torch.hub.load_state_dict_from_url(
            filename, model_dir=model_dir, map_location=map_location,
            progress=progress, weights_only=True)

    checkpoint = fetch() if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = fetch()
    return checkpoint


def _register_checkpoint_loaders() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        load_from_local_trusted)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), force=True)(load_from_http_weights_only)


def _on_cpu_only() -> bool:
    """No CUDA (and no other accelerator MMEngine would pick)."""
    if torch.cuda.is_available():
        return False
    from mmengine.device import get_device
    return get_device() == 'cpu'


def _cpu_backend(backend: str) -> str:
    if backend == 'nccl':
        from mmengine.logging import print_log
        print_log('movinet_mm: CUDA is not available, using the gloo backend '
                  'for distributed training on CPU (instead of nccl)',
                  logger='current')
        return 'gloo'
    return backend


class _NoSetDevice:
    """Makes ``torch.cuda.set_device`` a no-op for the duration of a call."""

    def __enter__(self):
        self.saved = torch.cuda.set_device
        torch.cuda.set_device = lambda device: None

    def __exit__(self, *exc):
        torch.cuda.set_device = self.saved


def _cpu_launcher(original):
    """Wrap an ``mmengine.dist.utils._init_dist_*`` launcher for CPU runs."""
    if getattr(original, '_movinet_cpu', False):
        return original

    def init(backend, *args, **kwargs):
        if not _on_cpu_only():
            return original(backend, *args, **kwargs)
        with _NoSetDevice():
            return original(_cpu_backend(backend), *args, **kwargs)

    init._movinet_cpu = True
    init.__wrapped__ = original
    init.__doc__ = original.__doc__
    return init


def _on_cpu(module) -> bool:
    return all(p.device.type == 'cpu' for p in module.parameters())


def _patch_cpu_distributed() -> None:
    import mmengine.dist.utils as dist_utils
    import mmengine.runner.runner as runner_module
    from mmengine.model import MMDistributedDataParallel

    for name in ('_init_dist_pytorch', '_init_dist_slurm', '_init_dist_mpi'):
        setattr(dist_utils, name, _cpu_launcher(getattr(dist_utils, name)))

    ddp_init = MMDistributedDataParallel.__init__
    if not getattr(ddp_init, '_movinet_cpu', False):
        def __init__(self, module, *args, **kwargs):
            if _on_cpu_only() and _on_cpu(module):
                # torch DDP takes device_ids only for accelerator modules
                kwargs.pop('device_ids', None)
                kwargs.pop('output_device', None)
            ddp_init(self, module, *args, **kwargs)

        __init__._movinet_cpu = True
        __init__.__wrapped__ = ddp_init
        MMDistributedDataParallel.__init__ = __init__

    convert = runner_module.convert_sync_batchnorm
    if not getattr(convert, '_movinet_cpu', False):
        def convert_sync_batchnorm(module, implementation='torch'):
            if _on_cpu_only() and _on_cpu(module):
                from mmengine.logging import print_log
                print_log('movinet_mm: SyncBatchNorm needs an accelerator; '
                          'keeping per-process BatchNorm on CPU',
                          logger='current')
                return module
            return convert(module, implementation)

        convert_sync_batchnorm._movinet_cpu = True
        convert_sync_batchnorm.__wrapped__ = convert
        runner_module.convert_sync_batchnorm = convert_sync_batchnorm


def _register_config_scope() -> None:
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('movinet_mm', 'movinet_mm')


DRN_STUBBED = _stub_missing_drn()
_ensure_importlib_metadata()
_register_checkpoint_loaders()
_patch_cpu_distributed()
_register_config_scope()
