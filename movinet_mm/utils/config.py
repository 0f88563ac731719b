"""Config helpers shared by the tools."""
from typing import Any, Mapping, Optional

from mmengine.config import Config


def merge_cfg_options(cfg: Config, options: Optional[Mapping[str, Any]]) -> Config:
    """``cfg.merge_from_dict(options)``, where a new ``data_root`` also moves
    every path the config derived from the old one.

    MMEngine expands ``f'{data_root}/...'`` when it parses the file, so a bare
    ``--cfg-options data_root=X`` would change nothing else. Paths given in
    ``options`` themselves are left as given.
    """
    if not options:
        return cfg
    old_root = cfg.get('data_root')
    cfg.merge_from_dict(dict(options))
    new_root = options.get('data_root')
    if not isinstance(old_root, str) or not isinstance(new_root, str) or \
            new_root == old_root:
        return cfg
    old_prefix = old_root.rstrip('/') + '/'
    new_prefix = new_root.rstrip('/') + '/'

    def moved(value, path):
        if path in options:
            return value
        if isinstance(value, str):
            if value == old_root:
                return new_root
            if value.startswith(old_prefix):
                return new_prefix + value[len(old_prefix):]
            return value
        if isinstance(value, Mapping):
            for key in list(value):
                value[key] = moved(value[key], f'{path}.{key}' if path else key)
            return value
        if isinstance(value, list):
            return [moved(v, f'{path}.{i}') for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return tuple(moved(v, f'{path}.{i}') for i, v in enumerate(value))
        return value

    for key in list(cfg.keys()):
        if key != 'data_root':
            cfg[key] = moved(cfg[key], key)
    return cfg
