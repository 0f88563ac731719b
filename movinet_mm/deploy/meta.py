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
  interval, and the config's test pipeline as written);
- ``class_names`` (or null), ``num_classes``, ``source`` (config path,
  checkpoint path and SHA-256), ``movinet_mm_version``, ``torch_version``.
"""
import hashlib
import json
import os
import os.path as osp
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

FORMAT_VERSION = 1
META_FILE = 'meta.json'


class DeployError(ValueError):
    """Bad input to an export or a runtime: a one-line explanation."""


def _find(pipeline: Sequence[dict], *types: str) -> Optional[dict]:
    for step in pipeline:
        if step.get('type') in types:
            return step
    return None


def _hw(size) -> List[int]:
    """mmcv sizes are (w, h) or one int."""
    if isinstance(size, int):
        return [size, size]
    w, h = size
    return [int(h), int(w)]


def test_pipeline_of(cfg) -> List[dict]:
    pipeline = cfg.get('test_pipeline')
    if not pipeline:
        pipeline = cfg.test_dataloader.dataset.get('pipeline', [])
    return [dict(step) for step in pipeline]


def preprocessing_from_config(cfg, frame_size: Sequence[int]) -> Dict[str, Any]:
    """The test-time preprocessing of ``cfg``, for inputs of ``frame_size``.

    When the config's pipeline produces another size than ``frame_size`` the
    resize and crop are scaled to it (``adapted`` says so).
    """
    pipeline = test_pipeline_of(cfg)
    frame_size = [int(s) for s in frame_size]
    resize_step = _find(pipeline, 'Resize')
    crop_step = _find(pipeline, 'CenterCrop')
    sampler = _find(pipeline, 'SampleFrames', 'SampleAllFrames',
                    'UniformSample')
    resize = crop = None
    if resize_step is not None:
        scale = resize_step.get('scale')
        keep_ratio = resize_step.get('keep_ratio', True)
        if isinstance(scale, (tuple, list)) and -1 in tuple(scale):
            resize = dict(type='short_side', size=int(max(scale)))
        elif not keep_ratio and isinstance(scale, (tuple, list)):
            resize = dict(type='fixed', size=_hw(scale))
        else:
            raise DeployError(
                f'the test pipeline step {resize_step} cannot be described '
                'for a runtime; expected Resize(scale=(-1, S)) (short side) '
                'or Resize(scale=(W, H), keep_ratio=False)')
    if crop_step is not None:
        crop = dict(type='center', size=_hw(crop_step['crop_size']))
    produced = (crop['size'] if crop else
                resize['size'] if resize and resize['type'] == 'fixed'
                else None)
    adapted = produced != frame_size
    if adapted:
        if crop is not None and resize is not None and \
                resize['type'] == 'short_side':
            ratio = resize['size'] / min(crop['size'])
            resize = dict(type='short_side',
                          size=int(round(min(frame_size) * ratio)))
            crop = dict(type='center', size=frame_size)
        elif resize is not None and resize['type'] == 'fixed' and crop is None:
            resize = dict(type='fixed', size=frame_size)
        else:
            resize = dict(type='short_side', size=min(frame_size))
            crop = dict(type='center', size=frame_size)
    pre = cfg.model.get('data_preprocessor', {}) or {}
    mean = [float(v) for v in (pre.get('mean') or [0.0, 0.0, 0.0])]
    std = [float(v) for v in (pre.get('std') or [1.0, 1.0, 1.0])]
    return dict(
        color='RGB',
        input='uint8 RGB frames [H, W, 3] as decoded',
        resize=resize,
        crop=crop,
        interpolation='bilinear',
        normalize='(x - mean) / std, per channel',
        mean=mean,
        std=std,
        value_range=[[(0.0 - m) / s, (255.0 - m) / s]
                     for m, s in zip(mean, std)],
        layout='NCTHW',
        frame_interval=int(sampler.get('frame_interval', 1)) if sampler
        else 1,
        clip_len=sampler.get('clip_len') if sampler else None,
        adapted=adapted,
        test_pipeline=pipeline,
    )


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


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


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
