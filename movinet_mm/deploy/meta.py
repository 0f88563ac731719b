"""``meta.json``: what a runtime needs to know about an exported model.

Written next to every exported model file; read by
:func:`movinet_mm.deploy.load_runtime` and by the self-contained
``tools/deployment/stream_example.py``. Fields (format version 1):

- ``format_version``, ``backend`` ('onnx' | 'openvino' | 'executorch'),
  ``mode`` ('stream' | 'clip'), ``file`` (the model file in the directory),
  ``stateful`` (OpenVINO IR with the state kept inside, else false);
- ``inputs``: ``[{name, shape, dtype}]`` in call order: the frame (``image``
  ``[1, 3, 1, H, W]`` float32) or clip (``video`` ``[1, 3, T, H, W]``, T
  null when free), then for stream models every state in ``state_names``
  order; ``outputs``: ``logits`` ``[1, K]`` then the next states (named
  ``<state name>_out`` in ONNX and OpenVINO; ExecuTorch is positional);
- ``state_names`` and ``states`` (``{name, shape, dtype}``, same order; int64
  frame counts, float32 buffers), ``frame_size`` [H, W], ``frames``;
- ``preprocessing``: how decoded RGB uint8 frames become the input (short-
  side or fixed resize, centre crop, ``(x - mean) / std``, the frame
  interval: :func:`movinet_mm.datasets.frames.describe_preprocessing`;
  ``test_pipeline``, the config's as written, only for the record);
- ``class_names`` (or null), ``num_classes``, ``source`` (config path,
  checkpoint path and SHA-256), ``movinet_mm_version``, ``torch_version``.
"""
import json
import os
import os.path as osp
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..utils.errors import DeployError

FORMAT_VERSION = 1
META_FILE = 'meta.json'


def class_names_from_config(cfg, num_classes: int) -> Optional[List[str]]:
    """Class names from the config (``class_names``/``classes`` or the
    dataset's ``metainfo``), or a ``classes.txt`` next to the test
    annotations; None when there are none (or their count is wrong)."""
    names = cfg.get('class_names') or cfg.get('classes')
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    if not names:
        names = (dataset.get('metainfo') or {}).get('classes')
    if not names and dataset.get('ann_file'):
        path = osp.join(osp.dirname(dataset['ann_file']), 'classes.txt')
        if osp.isfile(path):
            with open(path) as f:
                names = [line.strip() for line in f if line.strip()]
    if isinstance(names, str) and osp.isfile(names):
        with open(names) as f:
            names = [line.strip() for line in f if line.strip()]
    if not names or len(names) != num_classes:
        return None
    return [str(n) for n in names]


def tensor_spec(name: str, shape: Sequence[Optional[int]], dtype: str) -> dict:
    return dict(name=name, shape=[None if s is None else int(s)
                                  for s in shape], dtype=dtype)


def dtype_name(dtype) -> str:
    """'float32' / 'int64' from a torch or numpy dtype."""
    return str(dtype).replace('torch.', '')


def state_output_name(name: str) -> str:
    """The output that carries the next value of state ``name``."""
    return f'{name}_out'


def write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as JSON atomically (temp file in the same dir, rename)."""
    directory = osp.dirname(osp.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.meta-', suffix='.json', dir=directory)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, indent=2)
            f.write('\n')
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


REQUIRED = ('format_version', 'backend', 'mode', 'file', 'inputs', 'outputs',
            'state_names', 'states', 'frame_size', 'num_classes')


def read_meta(model_dir: str) -> Dict[str, Any]:
    """The checked ``meta.json`` of an exported model directory."""
    path = osp.join(model_dir, META_FILE)
    if not osp.isdir(model_dir):
        raise DeployError(f'{model_dir} is not a directory; expected an '
                          'exported model directory (tools/deployment/'
                          'export.py --out)')
    if not osp.isfile(path):
        raise DeployError(f'{model_dir} has no {META_FILE}; expected a '
                          'directory written by tools/deployment/export.py')
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as error:
        raise DeployError(f'cannot read {path}: {error}') from None
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise DeployError(f'{path} lacks {missing}: not a movinet_mm export')
    if meta['format_version'] > FORMAT_VERSION:
        raise DeployError(f'{path} has format version '
                          f'{meta["format_version"]}; this movinet_mm reads '
                          f'up to {FORMAT_VERSION}: upgrade movinet_mm')
    if not osp.isfile(osp.join(model_dir, meta['file'])):
        raise DeployError(f'{model_dir} lacks the model file {meta["file"]} '
                          f'named in {META_FILE}')
    return meta


def frame_size_of(meta: Dict[str, Any]) -> Tuple[int, int]:
    h, w = meta['frame_size']
    return int(h), int(w)
