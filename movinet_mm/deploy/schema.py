"""The checks of ``meta.json``: every field a runtime, the frame pipeline or
``tools/deployment/stream_example.py`` reads, with its type.

Schema versions (``schema_version``; a file without one is version 1):

1. the layout before the field existed (a stateful OpenVINO IR listed its
   states as inputs and outputs);
2. ``schema_version``; a stateful IR lists the inputs and outputs it really
   has and its states as ``variables``; ``kind`` ('model' or 'ensemble': a
   directory of ``member_<i>`` exports); ``preprocessing.frame_offset``.
   Optional in version 2 (added later, read by every reader of it):
   ``multi_label`` (bool) and ``scores`` ('softmax' | 'sigmoid', which must
   agree with it): how the ``logits`` become class probabilities. A file
   without them is a single-label model scored by softmax.
   ``state_layout`` (a stream model's states: 'eager', 'channels_first' or
   'channels_last', see ``movinet_mm.models.layers.state``; null for a
   clip): a file without it has the 'eager' shapes.

A bad field is one :class:`DeployError` line: the file, the field, what was
expected and what is there.
"""
import os.path as osp
from typing import Any, Dict

from ..models.layers.state import STATE_LAYOUTS
from ..utils.errors import DeployError

SCHEMA_VERSION = 2
FORMATS = ('onnx', 'openvino', 'executorch', 'litert')
MODES = ('stream', 'clip')
KINDS = ('model', 'ensemble')
COMBINE = ('mean', )
SCORES = ('softmax', 'sigmoid')


def scores_of(multi_label: bool) -> str:
    """How the logits become probabilities: sigmoid when multi-label."""
    return 'sigmoid' if multi_label else 'softmax'


def is_multi_label(meta: Dict) -> bool:
    """A checked meta's model is multi-label (sigmoid scores); files
    without the field are single-label (softmax)."""
    return bool(meta.get('multi_label', False))


class _Checker:
    def __init__(self, path: str):
        self.path = path

    def fail(self, field: str, expected: str, value: Any = None,
             show: bool = True):
        got = f', got {_short(value)}' if show else ''
        raise DeployError(f'{self.path}: {field!r} must be {expected}{got} '
                          '(export the model again, or fix the file)')

    def present(self, meta: Dict, *fields: str) -> None:
        missing = [f for f in fields if f not in meta]
        if missing:
            raise DeployError(f'{self.path} lacks the fields {missing}: not '
                              'a movinet_mm export (or a damaged one)')

    def int(self, value, field: str, low: int = 1) -> int:
        if not _is_int(value) or value < low:
            self.fail(field, 'a positive integer' if low == 1 else
                      f'an integer >= {low}', value)
        return value

    def choice(self, value, field: str, options) -> None:
        if value not in options:
            self.fail(field, ' or '.join(map(repr, options)), value)

    def size(self, value, field: str) -> None:
        if not (isinstance(value, list) and len(value) == 2 and
                all(_is_int(v) and v >= 1 for v in value)):
            self.fail(field, '[H, W] of positive integers', value)

    def names(self, value, field: str) -> None:
        if not (isinstance(value, list) and
                all(isinstance(v, str) and v for v in value)):
            self.fail(field, 'a list of names', value)

    def tensors(self, value, field: str, extra=()) -> None:
        """A list of ``{name, shape, dtype}`` (shape: ints or null)."""
        import numpy as np
        if not isinstance(value, list):
            self.fail(field, 'a list of {name, shape, dtype}', value)
        for i, spec in enumerate(value):
            where = f'{field}[{i}]'
            if not isinstance(spec, dict):
                self.fail(where, 'an object {name, shape, dtype}', spec)
            for key in ('name', 'shape', 'dtype', *extra):
                if key not in spec:
                    self.fail(where, f'an object with {key!r}', spec)
            if not isinstance(spec['name'], str) or not spec['name']:
                self.fail(f'{where}.name', 'a name', spec['name'])
            shape = spec['shape']
            if not isinstance(shape, list) or not all(
                    s is None or (_is_int(s) and s >= 0) for s in shape):
                self.fail(f'{where}.shape', 'a list of sizes (integers, or '
                          'null when free)', shape)
            try:
                np.dtype(spec['dtype'])
            except (TypeError, ValueError):
                self.fail(f'{where}.dtype', "a dtype name ('float32', "
                          "'int64')", spec['dtype'])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def schema_version(meta: Dict, path: str) -> int:
    """The file's schema version (1 when it has none); refuses newer ones."""
    check = _Checker(path)
    version = meta.get('schema_version', 1)
    check.int(version, 'schema_version')
    if version > SCHEMA_VERSION:
        raise DeployError(f'{path} has schema version {version}; this '
                          f'movinet_mm reads up to {SCHEMA_VERSION}: upgrade '
                          'movinet_mm (pip install -U movinet_mm)')
    return version


def check_meta(meta: Any, path: str) -> Dict:
    """``meta`` (one exported model) checked field by field; returns it."""
    check = _Checker(path)
    if not isinstance(meta, dict):
        raise DeployError(f'{path} is not a JSON object; expected the '
                          'meta.json of tools/deployment/export.py')
    version = schema_version(meta, path)
    check.present(meta, 'backend', 'mode', 'file', 'inputs', 'outputs',
                  'input_names', 'output_names', 'state_names', 'states',
                  'frame_size', 'num_classes', 'preprocessing')
    check.choice(meta.get('kind', 'model'), 'kind', KINDS)
    check.choice(meta['backend'], 'backend', FORMATS)
    check.choice(meta['mode'], 'mode', MODES)
    file = meta['file']
    if not isinstance(file, str) or not file or osp.basename(file) != file \
            or file in ('.', '..'):
        check.fail('file', 'the name of a file in the directory', file)
    stateful = meta.get('stateful', False)
    if not isinstance(stateful, bool):
        check.fail('stateful', 'true or false', stateful)
    if stateful and (meta['backend'], meta['mode']) != ('openvino', 'stream'):
        check.fail('stateful', 'false except for an OpenVINO stream model',
                   stateful)
    check.size(meta['frame_size'], 'frame_size')
    num_classes = check.int(meta['num_classes'], 'num_classes')
    if meta.get('frames') is not None:
        check.int(meta['frames'], 'frames')
    names = meta.get('class_names')
    if names is not None and not (
            isinstance(names, list) and len(names) == num_classes and
            all(isinstance(n, str) for n in names)):
        check.fail('class_names', f'null or a list of {num_classes} names '
                   '(num_classes)', names)
    _check_scores(check, meta)
    _check_tensors(check, meta, version)
    if meta['backend'] == 'litert':
        _check_signature(check, meta)
    _check_preprocessing(check, meta['preprocessing'])
    if meta.get('quantization') is not None and \
            not isinstance(meta['quantization'], dict):
        check.fail('quantization', 'null or an object', meta['quantization'])
    return meta


def _check_scores(check: _Checker, meta: Dict) -> None:
    multi_label = meta.get('multi_label', False)
    if not isinstance(multi_label, bool):
        check.fail('multi_label', 'true or false', multi_label)
    scores = meta.get('scores', scores_of(multi_label))
    check.choice(scores, 'scores', SCORES)
    if scores != scores_of(multi_label):
        check.fail('scores', f'{scores_of(multi_label)!r} for multi_label='
                   f'{str(multi_label).lower()}', scores)


def _check_tensors(check: _Checker, meta: Dict, version: int) -> None:
    check.tensors(meta['inputs'], 'inputs')
    check.tensors(meta['outputs'], 'outputs')
    if not meta['inputs'] or not meta['outputs']:
        check.fail('inputs' if not meta['inputs'] else 'outputs',
                   'a non-empty list', [])
    for field, specs in (('input_names', meta['inputs']),
                         ('output_names', meta['outputs'])):
        check.names(meta[field], field)
        tensors = field.split('_')[0] + 's'
        if meta[field] != [s['name'] for s in specs]:
            check.fail(field, f"the names of {tensors!r} in order",
                       meta[field])
    check.names(meta['state_names'], 'state_names')
    check.tensors(meta['states'], 'states')
    if [s['name'] for s in meta['states']] != meta['state_names']:
        check.fail('states', "the states of 'state_names', in that order",
                   [s['name'] for s in meta['states']])
    stateful = meta.get('stateful', False)
    if stateful and version >= 2:  # the states are variables of the IR
        check.tensors(meta.get('variables'), 'variables', extra=('state', ))
        if meta['state_names']:
            check.fail('state_names', 'empty for a stateful IR (its states '
                       "are 'variables')", meta['state_names'])
    layout = meta.get('state_layout')
    if layout is not None and layout not in STATE_LAYOUTS:
        check.fail('state_layout', f'one of {list(STATE_LAYOUTS)} or null',
                   layout)
    explicit = len(meta['state_names'])
    if meta['mode'] == 'stream' and not stateful and not explicit:
        check.fail('state_names', 'the states of the stream model', [])
    for field in ('inputs', 'outputs'):
        if len(meta[field]) != 1 + explicit:
            check.fail(field, f"the {'frame' if field == 'inputs' else 'logits'}"
                       f' and the {explicit} states', len(meta[field]),
                       show=False)
    if [s['name'] for s in meta['inputs'][1:]] != meta['state_names']:
        check.fail('inputs', "the frame, then the states of 'state_names'",
                   meta['input_names'])


def _check_signature(check: _Checker, meta: Dict) -> None:
    """A LiteRT export's ``signature``: ``{key, inputs: {name: tensor},
    outputs: {name: tensor}}``, keyed by the input/output names in order."""
    signature = meta.get('signature')
    if not (isinstance(signature, dict) and
            isinstance(signature.get('key'), str) and signature['key']):
        check.fail('signature', '{key, inputs, outputs} (the LiteRT '
                   "signature's key and tensor names)", signature)
    for field in ('inputs', 'outputs'):
        names = signature.get(field)
        want = meta[f'{field[:-1]}_names']
        if not (isinstance(names, dict) and list(names) == want and all(
                isinstance(v, str) and v for v in names.values()) and
                len(set(names.values())) == len(names)):
            check.fail(f'signature.{field}', f'an object mapping each of '
                       f"'{field[:-1]}_names' in order to a distinct tensor "
                       'name of the file', names)


RESIZES = ('short_side', 'fixed')


def _check_preprocessing(check: _Checker, pre: Any) -> None:
    """null (exported without a config) or what FramePipeline.from_meta and
    stream_example.py read."""
    if pre is None:
        return
    if not isinstance(pre, dict):
        check.fail('preprocessing', 'null or an object (resize, crop, mean, '
                   'std, frame_interval)', pre)
    resize = pre.get('resize')
    if resize is not None:
        ok = isinstance(resize, dict) and resize.get('type') in RESIZES
        size = resize.get('size') if ok else None
        if ok and resize['type'] == 'short_side':
            ok = _is_int(size) and size >= 1
        elif ok:
            ok = isinstance(size, list) and len(size) == 2 and all(
                _is_int(s) and s >= 1 for s in size)
        if not ok:
            check.fail('preprocessing.resize', "null, {type: 'short_side', "
                       "size: S} or {type: 'fixed', size: [H, W]}", resize)
    crop = pre.get('crop')
    if crop is not None and not (
            isinstance(crop, dict) and crop.get('type') == 'center' and
            isinstance(crop.get('size'), list) and len(crop['size']) == 2
            and all(_is_int(s) and s >= 1 for s in crop['size'])):
        check.fail('preprocessing.crop', "null or {type: 'center', size: "
                   '[H, W]}', crop)
    for key in ('mean', 'std'):
        value = pre.get(key)
        if not (isinstance(value, list) and len(value) == 3 and
                all(_is_number(v) for v in value)):
            check.fail(f'preprocessing.{key}', '3 numbers (per RGB channel)',
                       value)
    if not all(pre['std']):
        check.fail('preprocessing.std', '3 non-zero numbers', pre['std'])
    check.int(pre.get('frame_interval', 1), 'preprocessing.frame_interval')
    check.int(pre.get('frame_offset', 0), 'preprocessing.frame_offset', 0)


def check_ensemble_meta(meta: Dict, path: str) -> Dict:
    """The top ``meta.json`` of an ensemble export, checked; returns it."""
    check = _Checker(path)
    check.present(meta, 'members', 'combine', 'num_classes')
    members = meta['members']
    if not (isinstance(members, list) and len(members) >= 2 and all(
            isinstance(m, dict) and isinstance(m.get('dir'), str) and
            osp.basename(m['dir']) == m['dir'] for m in members)):
        check.fail('members', 'a list of at least 2 {dir, input_key}',
                   members)
    check.choice(meta['combine'], 'combine', COMBINE)
    check.int(meta['num_classes'], 'num_classes')
    _check_scores(check, meta)
    return meta
