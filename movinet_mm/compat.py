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


DRN_STUBBED = _stub_missing_drn()
_ensure_importlib_metadata()
_register_checkpoint_loaders()
