"""``meta.json``: what a runtime needs to know about an exported model.

Written next to every exported model file; read (and checked:
:mod:`movinet_mm.deploy.schema`) by :func:`read_meta`, and by the
self-contained ``tools/deployment/stream_example.py``. Fields:

- ``schema_version`` (2; none: 1), ``format_version`` (1, for older
  readers), ``kind`` ('model'; 'ensemble': see below), ``backend`` ('onnx' |
  'openvino' | 'executorch' | 'litert'), ``mode`` ('stream' | 'clip'), ``file`` (the
  model file in the directory), ``stateful`` (OpenVINO IR with the state
  kept inside, else false);
- ``inputs``: ``[{name, shape, dtype}]`` in call order: the frame (``image``
  ``[1, 3, 1, H, W]`` float32) or clip (``video`` ``[1, 3, T, H, W]``, T
  null when free), then for stream models every state in ``state_names``
  order; ``outputs``: ``logits`` ``[1, K]`` then the next states (named
  ``<state name>_out`` in ONNX and OpenVINO; ExecuTorch is positional);
  ``input_names``/``output_names``: their names; a LiteRT file's tensors
  are ``args_<i>``/``output_<i>``, mapped to these names by ``signature``
  (``{key, inputs: {name: tensor}, outputs: {name: tensor}}``), and its
  ``inputs``/``outputs`` give the file's dtypes (int32 frame counts);
- ``state_names`` and ``states`` (``{name, shape, dtype}``, same order; int64
  frame counts, float32 buffers), ``frame_size`` [H, W], ``frames``; a
  stateful IR has no state inputs: ``state_names`` is empty and
  ``variables`` lists its variables (``{name, state, shape, dtype}``);
- ``preprocessing``: how decoded RGB uint8 frames become the input (short-
  side or fixed resize, centre crop, ``(x - mean) / std``, the frame
  interval and offset: :func:`movinet_mm.datasets.frames.
  describe_preprocessing`), null when exported without a config;
- ``multi_label`` (bool) and ``scores`` ('sigmoid' for multi-label models,
  else 'softmax'): how ``logits`` become class probabilities (absent in
  older files: single-label, softmax; :func:`runtime.class_probabilities`);
- ``class_names`` (or null), ``num_classes``, ``source`` (config path,
  checkpoint path and SHA-256), ``movinet_mm_version``, ``torch_version``;
  ``ensemble`` (``{index, input_key, members}``) in an ensemble's member.

An ensemble export is a directory of members (``member_<i>/``, each a
model export) whose ``meta.json`` has ``kind: 'ensemble'``, ``members``
(``[{dir, input_key}]``) and ``combine: 'mean'`` (of the raw logits).
"""
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..utils.errors import DeployError
from ..utils.files import check_output_dir, write_json_atomic
from .schema import SCHEMA_VERSION, check_ensemble_meta, check_meta  # noqa: F401

FORMAT_VERSION = 1
META_FILE = 'meta.json'
EXPORT_TOOL = 'tools/deployment/export.py'
QUANTIZE_TOOL = 'tools/deployment/quantize.py'
OUTPUT_FILES = {EXPORT_TOOL: (META_FILE, 'model.onnx', 'model.xml',
                              'model.bin', 'model.pte', 'model.tflite'),
                QUANTIZE_TOOL: (META_FILE, 'model.onnx', 'model.pte')}


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
    """Write ``obj`` as JSON atomically, with the user's umask."""
    write_json_atomic(path, obj, indent=2)


def written_by(model_dir: str) -> Optional[str]:
    """The tool whose output ``model_dir`` is, from its ``meta.json``
    (``quantization`` record: quantize, else export); None if neither."""
    try:
        with open(osp.join(model_dir, META_FILE)) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    needed = {'format_version', 'backend'}
    if meta.get('kind') != 'ensemble':  # an ensemble's members have files
        needed.add('file')
    if not needed <= set(meta):
        return None
    return QUANTIZE_TOOL if meta.get('quantization') else EXPORT_TOOL


def ensemble_member_dirs(model_dir: str) -> List[str]:
    """The member directories an ensemble export lists (else none)."""
    try:
        with open(osp.join(model_dir, META_FILE)) as f:
            meta = json.load(f)
        if meta.get('kind') == 'ensemble':
            return [str(m['dir']) for m in meta['members']]
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        pass
    return []


def check_model_dir(out: str, force: bool = False, inputs: Sequence = (),
                    owner: str = EXPORT_TOOL) -> str:
    """:func:`~movinet_mm.utils.files.check_output_dir` for a directory
    written by ``owner`` (export or quantize); returns the resolved path."""
    expected = OUTPUT_FILES[owner]
    if owner == EXPORT_TOOL:
        expected += tuple(ensemble_member_dirs(out))
    try:
        return check_output_dir(out, force, inputs, expected, owner,
                                written_by)
    except ValueError as error:
        raise DeployError(str(error)) from None


def read_meta(model_dir: str) -> Dict[str, Any]:
    """The checked ``meta.json`` of an exported model directory (one model:
    an ensemble's top directory is a one-line error naming its members)."""
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
    if isinstance(meta, dict) and meta.get('kind') == 'ensemble':
        check_ensemble_meta(meta, path)
        dirs = [m['dir'] for m in meta['members']]
        raise DeployError(
            f'{model_dir} is an ensemble of {len(dirs)} members '
            f'({", ".join(dirs)}) whose logits combine as the '
            f'{meta["combine"]}: load each member directory with '
            'load_runtime, feed it the frames its meta.json preprocessing '
            'samples, and average the logits')
    check_meta(meta, path)
    if not osp.isfile(osp.join(model_dir, meta['file'])):
        raise DeployError(f'{model_dir} lacks the model file {meta["file"]} '
                          f'named in {META_FILE}')
    return meta


def frame_size_of(meta: Dict[str, Any]) -> Tuple[int, int]:
    h, w = meta['frame_size']
    return int(h), int(w)
