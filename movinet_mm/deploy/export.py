"""Export the inference form of a MoViNet to ONNX, OpenVINO IR, ExecuTorch or
LiteRT.

Every export writes a directory: the model file and a ``meta.json``
(:mod:`movinet_mm.deploy.meta`). The directory is built in a temporary
directory next to the output and renamed into place at the end, so a failed
export leaves nothing behind.

- ONNX (opset 18, ``torch.onnx.export(dynamo=True)``): the stream step with
  inputs ``image`` + the state names and outputs ``logits`` + the state
  names with the suffix ``_out``; the clip model with input ``video`` and a
  dynamic time axis (unless ``frames`` is fixed). The names are checked
  after export.
- OpenVINO IR (``model.xml``/``.bin``, float32 weights) converted from that
  ONNX graph, with the same names; ``stateful=True`` makes each state pair
  an internal variable (OpenVINO's MakeStateful: the state then lives in the
  infer request and is cleared with ``reset_state()``).
- ExecuTorch ``.pte`` lowered to the XNNPACK delegate; inputs and outputs
  are positional, in the order of ``meta.json``.
- LiteRT ``.tflite`` (``torch.export`` then ``litert_torch.convert``; static
  shapes): one signature whose inputs ``args_<i>`` and outputs
  ``output_<i>`` are, by number, the names of ``meta.json``; the mapping is
  its ``signature`` field. The int64 frame counts are int32 in the file.

An ``EnsembleRecognizer`` exports as its members, ``member_<i>/`` (each a
model export with the member's own preprocessing and frame sampling), under
a ``meta.json`` of kind 'ensemble' (:func:`export_ensemble`).
"""
import copy
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from ..datasets.frames import describe_preprocessing, ensemble_branches
from ..models.backbones.movinet_arch import MIN_FRAME_SIZE
from ..models.layers.state import STATE_LAYOUTS
from ..utils.files import atomic_output_dir, sha256_file
from .inference import build_inference_model
from .meta import (
    FORMAT_VERSION,
    META_FILE,
    DeployError,
    check_model_dir,
    class_names_from_config,
    dtype_name,
    read_meta,
    state_output_name,
    tensor_spec,
    write_json,
)
from .schema import SCHEMA_VERSION, scores_of

BACKENDS = ('onnx', 'openvino', 'executorch', 'litert')
# The stream states' layout of each runtime (measured, A0-Stream 172²,
# docs/results.md#stream-state-layouts): LiteRT computes in NHWC, and NHWC
# states save it a transpose per state; the others keep channels first.
STATE_LAYOUT_OF = {'onnx': 'channels_first', 'openvino': 'channels_first',
                   'executorch': 'channels_first', 'litert': 'channels_last'}
MODEL_FILES = {'onnx': 'model.onnx', 'openvino': 'model.xml',
               'executorch': 'model.pte', 'litert': 'model.tflite'}
ONNX_OPSET = 18
INSTALL_HINT = 'pip install movinet_mm[deploy]'
# litert-torch goes in without its transformers requirement (setup.cfg)
LITERT_EXPORT_HINT = ('pip install movinet_mm[litert-export] && pip install '
                      '--no-deps litert-torch==0.10.0')


class MissingPackageError(ImportError):
    """A runtime or exporter package is not installed."""


def require(module: str, package: Optional[str] = None,
            extra: str = 'deploy', hint: Optional[str] = None):
    """Import ``module`` or raise a one-line error naming the pip extra."""
    import importlib
    if module.startswith(('executorch', 'litert_torch')):
        quiet_torchao_kernel_warnings()
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(
            f'{package or module} is not installed; install the {extra} '
            f'extra: {hint or f"pip install movinet_mm[{extra}]"}') from None


def _not_a_torchao_kernel_library(record) -> bool:
    message = record.getMessage()
    return not (message.startswith('Failed to load ') and
                '/torchao/_C' in message)


def quiet_torchao_kernel_warnings() -> None:
    """Drop torchao's "Failed to load .../torchao/_C_cutlass_90a.abi3.so"
    warnings (CUDA kernels, logged when ExecuTorch imports torchao; nothing
    here uses them). Other torchao messages pass."""
    import logging
    logger = logging.getLogger('torchao')
    if _not_a_torchao_kernel_library not in logger.filters:
        logger.addFilter(_not_a_torchao_kernel_library)


# ------------------------------------------------------------------ formats
def io_names(model: nn.Module, mode: str):
    if mode == 'stream':
        return (['image', *model.state_names],
                ['logits', *map(state_output_name, model.state_names)])
    return ['video'], ['logits']


def example_inputs(model: nn.Module, mode: str,
                   frames: Optional[int] = None) -> tuple:
    h, w = model.frame_size
    if mode == 'stream':
        return (torch.zeros(1, 3, 1, h, w), *model.init_states())
    return (torch.zeros(1, 3, frames or 8, h, w), )


def export_onnx(model: nn.Module, mode: str, path: str,
                frames: Optional[int] = None,
                opset: int = ONNX_OPSET) -> None:
    """Write ``model`` (an inference form) as ONNX and check its names."""
    require('onnx')
    require('onnxscript')
    inputs, outputs = io_names(model, mode)
    dynamic = None
    if mode == 'clip' and frames is None:
        dynamic = {'video': {2: torch.export.Dim('frames', min=1,
                                                 max=1 << 16)}}
    torch.onnx.export(model, example_inputs(model, mode, frames), path,
                      input_names=inputs, output_names=outputs,
                      opset_version=opset, dynamo=True, dynamic_shapes=dynamic,
                      external_data=False, verbose=False)
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    got_in = [i.name for i in graph.input]
    got_out = [o.name for o in graph.output]
    if got_in != inputs or got_out != outputs:
        raise RuntimeError(f'the exported ONNX names differ from the '
                           f'expected ones: inputs {got_in[:3]}... vs '
                           f'{inputs[:3]}..., outputs {got_out[:3]}... vs '
                           f'{outputs[:3]}...')


def make_stateful(ov_model, state_names: Sequence[str]):
    """Turn each (state input, ``<state>_out`` output) pair into a variable."""
    from openvino import passes
    manager = passes.Manager()
    manager.register_pass(passes.MakeStateful(
        {name: state_output_name(name) for name in state_names}))
    manager.run_passes(ov_model)
    return ov_model


def openvino_from_onnx(onnx_path: str, path: str,
                       state_names: Sequence[str] = (),
                       stateful: bool = False) -> None:
    """Convert an exported ONNX model to OpenVINO IR with float32 weights."""
    ov = require('openvino')
    ov_model = ov.convert_model(onnx_path)
    if stateful:
        if not state_names:
            raise DeployError('--stateful needs --mode stream (a clip model '
                              'has no state)')
        ov_model = make_stateful(ov_model, state_names)
    # save_model compresses weights to float16 unless told not to
    ov.save_model(ov_model, path, compress_to_fp16=False)


def export_openvino(model: nn.Module, mode: str, path: str,
                    frames: Optional[int] = None,
                    stateful: bool = False) -> None:
    """OpenVINO IR converted from the ONNX export (same names)."""
    require('openvino')
    onnx_path = osp.join(osp.dirname(path), '.model_for_openvino.onnx')
    export_onnx(model, mode, onnx_path, frames)
    openvino_from_onnx(onnx_path, path, getattr(model, 'state_names', ()),
                       stateful)
    os.remove(onnx_path)


def openvino_io(xml: str, state_names: Sequence[str] = ()) -> Dict:
    """What an OpenVINO IR takes and gives, as meta.json lists it: a
    stateful IR has only the frame and the logits, its states are
    ``variables`` (``{name, state, shape, dtype}``, in ``state_names`` order).
    """
    import numpy as np
    ov = require('openvino')
    ir = ov.Core().read_model(xml)

    def spec(name, shape, dtype, **extra):
        dims = [d.get_length() if d.is_static else None for d in shape]
        return dict(tensor_spec(name, dims, np.dtype(dtype.to_dtype()).name),
                    **extra)

    inputs = [spec(p.get_any_name(), p.get_partial_shape(),
                   p.get_element_type()) for p in ir.inputs]
    outputs = [spec(p.get_any_name(), p.get_partial_shape(),
                    p.get_element_type()) for p in ir.outputs]
    # MakeStateful names a variable after its input and output, joined
    state_of = {f'{n}{state_output_name(n)}': n for n in state_names}
    order = {n: i for i, n in enumerate(state_names)}
    variables = sorted(
        (spec(v.get_info().variable_id, v.get_info().data_shape,
              v.get_info().data_type,
              state=state_of.get(v.get_info().variable_id))
         for v in ir.get_variables()),
        key=lambda v: order.get(v['state'], len(order)))
    return dict(inputs=inputs, outputs=outputs,
                input_names=[s['name'] for s in inputs],
                output_names=[s['name'] for s in outputs],
                variables=variables)


def export_executorch(model: nn.Module, mode: str, path: str,
                      frames: Optional[int] = None) -> None:
    """An ExecuTorch program lowered to the XNNPACK delegate."""
    require('executorch')
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
        XnnpackPartitioner,
    )
    from executorch.exir import to_edge_transform_and_lower
    if mode == 'clip' and frames is None:
        raise DeployError('ExecuTorch clip models have a fixed length: pass '
                          '--frames T')
    program = torch.export.export(model, example_inputs(model, mode, frames))
    edge = to_edge_transform_and_lower(program,
                                       partitioner=[XnnpackPartitioner()])
    with open(path, 'wb') as f:
        f.write(edge.to_executorch().buffer)


def export_litert(model: nn.Module, mode: str, path: str,
                  frames: Optional[int] = None) -> None:
    """A LiteRT flatbuffer (``.tflite``) through litert-torch: the exported
    program of ``model`` converted for its example inputs (static shapes)."""
    litert_torch = require('litert_torch', 'litert-torch', 'litert-export',
                           LITERT_EXPORT_HINT)
    if mode == 'clip' and frames is None:
        raise DeployError('LiteRT clip models have a fixed length: pass '
                          '--frames T')
    args = example_inputs(model, mode, frames)
    exported = torch.export.export(model, args)
    litert_torch.convert(exported.module(), args).export(path)


def _signature_number(name: str) -> int:
    """3 from 'args_3' / 'output_3' (litert-torch's signature names)."""
    tail = name.rsplit('_', 1)[-1]
    return int(tail) if tail.isdigit() else -1


def litert_io(path: str, input_names: Sequence[str],
              output_names: Sequence[str]) -> Dict:
    """What a converted ``.tflite`` takes and gives, under meta.json's
    names: its signature's ``args_<i>``/``output_<i>`` sorted by number
    (not as strings: 'args_10' < 'args_2') are the inputs/outputs in
    order. Returns ``inputs``, ``outputs`` (the file's shapes and dtypes)
    and ``signature`` (``{key, inputs: {name: args_<i>}, outputs: {name:
    output_<i>}}``)."""
    import numpy as np
    interpreter = require('ai_edge_litert.interpreter', 'ai-edge-litert',
                          'litert')
    model = interpreter.Interpreter(model_path=path)
    signatures = model.get_signature_list()
    if len(signatures) != 1:
        raise RuntimeError(f'the converted LiteRT model has the signatures '
                           f'{sorted(signatures)}, expected one')
    key = next(iter(signatures))
    runner = model.get_signature_runner(key)
    result = dict(signature=dict(key=key, inputs={}, outputs={}))
    for field, names, details in (
            ('inputs', input_names, runner.get_input_details()),
            ('outputs', output_names, runner.get_output_details())):
        found = sorted(details, key=_signature_number)
        if len(found) != len(names) or min(
                map(_signature_number, found), default=0) < 0:
            raise RuntimeError(f'the converted LiteRT model has the {field} '
                               f'{found[:3]}... ({len(found)}), expected '
                               f'{len(names)} numbered ones')
        result['signature'][field] = dict(zip(names, found))
        result[field] = [tensor_spec(name, [int(d) for d in
                                            details[sig]['shape']],
                                     np.dtype(details[sig]['dtype']).name)
                         for name, sig in zip(names, found)]
    return result


EXPORTERS = {'onnx': export_onnx, 'openvino': export_openvino,
             'executorch': export_executorch, 'litert': export_litert}


# --------------------------------------------------------------------- meta
def build_meta(model: nn.Module, backend: str, mode: str,
               frames: Optional[int] = None, cfg=None,
               config_path: Optional[str] = None,
               checkpoint: Optional[str] = None,
               class_names: Optional[List[str]] = None,
               stateful: bool = False) -> Dict:
    from .. import __version__
    h, w = model.frame_size
    inputs, outputs = io_names(model, mode)
    num_classes = model.num_classes
    multi_label = bool(getattr(model, 'multi_label', False))
    if mode == 'stream':
        states = [tensor_spec(n, model.state_shapes[n],
                              dtype_name(model.state_dtypes[n]))
                  for n in model.state_names]
        input_specs = [tensor_spec('image', (1, 3, 1, h, w), 'float32'),
                       *states]
        output_specs = [tensor_spec('logits', (1, num_classes), 'float32')]
        output_specs += [dict(s, name=state_output_name(s['name']))
                         for s in states]
    else:
        states = []
        input_specs = [tensor_spec('video', (1, 3, frames, h, w), 'float32')]
        output_specs = [tensor_spec('logits', (1, num_classes), 'float32')]
    preprocessing = (describe_preprocessing(cfg, (h, w))
                     if cfg is not None else None)
    if class_names is None and cfg is not None:
        class_names = class_names_from_config(cfg, num_classes)
    if class_names is not None and len(class_names) != num_classes:
        raise DeployError(f'{len(class_names)} class names for a model of '
                          f'{num_classes} classes')
    return dict(
        schema_version=SCHEMA_VERSION,
        format_version=FORMAT_VERSION,
        kind='model',
        backend=backend,
        mode=mode,
        file=MODEL_FILES[backend],
        stateful=bool(stateful),
        inputs=input_specs,
        outputs=output_specs,
        input_names=inputs,
        output_names=outputs,
        state_names=list(getattr(model, 'state_names', ())),
        states=states,
        state_layout=getattr(model, 'state_layout', None),
        frame_size=[h, w],
        frames=frames,
        preprocessing=preprocessing,
        class_names=class_names,
        num_classes=num_classes,
        multi_label=multi_label,
        scores=scores_of(multi_label),
        source=dict(
            config=osp.abspath(config_path) if config_path else None,
            checkpoint=osp.abspath(checkpoint) if checkpoint else None,
            checkpoint_sha256=sha256_file(checkpoint) if checkpoint else None),
        movinet_mm_version=__version__,
        torch_version=torch.__version__,
    )


# ------------------------------------------------------------------ driver
def check_request(recognizer, backend: str, mode: str,
                  frame_size: Sequence[int], frames: Optional[int],
                  state_layout: Optional[str] = None) -> None:
    if backend not in BACKENDS:
        raise DeployError(f'backend must be one of {BACKENDS}, got '
                          f'{backend!r}')
    if state_layout is not None and state_layout not in STATE_LAYOUTS:
        raise DeployError(f'state layout must be one of {STATE_LAYOUTS}, '
                          f'got {state_layout!r}')
    if state_layout is not None and mode != 'stream':
        raise DeployError('--state-layout is for --mode stream (a clip '
                          'model has no state)')
    if mode not in ('stream', 'clip'):
        raise DeployError(f"mode must be 'stream' or 'clip', got {mode!r}")
    if len(frame_size) != 2 or min(frame_size) < MIN_FRAME_SIZE:
        raise DeployError(f'frame size must be H W, both at least '
                          f'{MIN_FRAME_SIZE} px (MoViNets stride by 32), got '
                          f'{tuple(frame_size)}')
    if mode == 'stream' and not recognizer.backbone.causal:
        raise DeployError('stream mode needs a causal (stream) model; this '
                          'is a base model: use --mode clip')
    if mode == 'stream' and frames is not None:
        raise DeployError('--frames is for --mode clip (a stream model takes '
                          'one frame per call)')
    if frames is not None and frames < 1:
        raise DeployError(f'--frames must be >= 1, got {frames}')
    if backend in ('executorch', 'litert') and mode == 'clip' and \
            frames is None:
        name = 'ExecuTorch' if backend == 'executorch' else 'LiteRT'
        raise DeployError(f'{name} clip models have a fixed length: pass '
                          '--frames T')


def export_model(recognizer, backend: str, mode: str,
                 frame_size: Sequence[int], out: str,
                 frames: Optional[int] = None, cfg=None,
                 config_path: Optional[str] = None,
                 checkpoint: Optional[str] = None,
                 class_names: Optional[List[str]] = None,
                 stateful: bool = False, force: bool = False,
                 state_layout: Optional[str] = None) -> str:
    """Export ``recognizer`` into the directory ``out``; returns its path.

    The directory holds ``MODEL_FILES[backend]`` and ``meta.json``; it is
    written atomically (a temp dir next to ``out``, renamed at the end).
    ``force`` replaces a previous export, never anything else
    (:func:`~movinet_mm.deploy.meta.check_model_dir`). An ensemble exports
    as its members (:func:`export_ensemble`). ``state_layout``: a stream
    model's states (``STATE_LAYOUTS``; default the backend's, in
    ``STATE_LAYOUT_OF``).
    """
    if is_ensemble(recognizer):
        return export_ensemble(recognizer, backend, mode, frame_size, out,
                               frames, cfg, config_path, checkpoint,
                               class_names, stateful, force, state_layout)
    frame_size = tuple(int(s) for s in frame_size)
    check_request(recognizer, backend, mode, frame_size, frames,
                  state_layout)
    if stateful and (backend != 'openvino' or mode != 'stream'):
        raise DeployError('--stateful is for --backend openvino --mode '
                          'stream')
    out = check_model_dir(out, force, [checkpoint, config_path])
    {'onnx': lambda: (require('onnx'), require('onnxscript')),
     'openvino': lambda: require('openvino'),
     'executorch': lambda: require('executorch'),
     'litert': lambda: (
         require('litert_torch', 'litert-torch', 'litert-export',
                 LITERT_EXPORT_HINT),
         require('ai_edge_litert.interpreter', 'ai-edge-litert', 'litert'))
     }[backend]()
    model = build_inference_model(
        recognizer, mode, frame_size, frames,
        state_layout=state_layout or STATE_LAYOUT_OF[backend])
    meta = build_meta(model, backend, mode, frames, cfg, config_path,
                      checkpoint, class_names, stateful)
    with atomic_output_dir(out) as tmp:
        path = osp.join(tmp, MODEL_FILES[backend])
        kwargs = dict(stateful=stateful) if backend == 'openvino' else {}
        EXPORTERS[backend](model, mode, path, frames, **kwargs)
        if stateful:  # the states became variables of the IR
            meta.update(openvino_io(path, model.state_names), state_names=[],
                        states=[])
        if backend == 'litert':  # the file's names, shapes and dtypes
            io = litert_io(path, meta['input_names'], meta['output_names'])
            _check_litert_shapes(meta, io)
            meta.update(io)
        write_json(osp.join(tmp, META_FILE), meta)
    return out


def _check_litert_shapes(meta: Dict, io: Dict) -> None:
    """The converted file's shapes are meta.json's (only the int64 frame
    counts may change dtype, to int32)."""
    for field in ('inputs', 'outputs'):
        for want, got in zip(meta[field], io[field]):
            dtypes = {want['dtype'], got['dtype']}
            if want['shape'] != got['shape'] or (
                    len(dtypes) > 1 and dtypes != {'int64', 'int32'}):
                raise RuntimeError(
                    f'the converted LiteRT model\'s {field[:-1]} '
                    f'{want["name"]!r} ({io["signature"][field][want["name"]]})'
                    f' is {got["shape"]} {got["dtype"]}, expected '
                    f'{want["shape"]} {want["dtype"]}')


# ----------------------------------------------------------------- ensembles
def is_ensemble(recognizer) -> bool:
    return hasattr(recognizer, 'members') and \
        hasattr(recognizer, 'input_keys')


def ensemble_member_configs(cfg) -> List:
    """Each member's config: ``cfg`` with the member's model (and data
    preprocessor) and its pipeline branch as the test pipeline."""
    configs = []
    for i, (_, pipeline, pre) in enumerate(ensemble_branches(cfg)):
        member = copy.deepcopy(cfg)
        member.model = dict(cfg.model.members[i], data_preprocessor=pre)
        member.test_pipeline = pipeline
        configs.append(member)
    return configs


def export_ensemble(recognizer, backend: str, mode: str,
                    frame_size: Sequence[int], out: str,
                    frames: Optional[int] = None, cfg=None,
                    config_path: Optional[str] = None,
                    checkpoint: Optional[str] = None,
                    class_names: Optional[List[str]] = None,
                    stateful: bool = False, force: bool = False,
                    state_layout: Optional[str] = None) -> str:
    """Export each member of an ensemble into ``out/member_<i>`` (a model
    export, its preprocessing that of its pipeline branch) and write
    ``out/meta.json``: ``kind: 'ensemble'``, ``members`` ``[{dir,
    input_key}]``, ``combine: 'mean'`` (of the members' raw logits)."""
    from .. import __version__
    frame_size = tuple(int(s) for s in frame_size)
    for member in recognizer.members:  # all checked before any export
        check_request(member, backend, mode, frame_size, frames,
                      state_layout)
    out = check_model_dir(out, force, [checkpoint, config_path])
    configs = ensemble_member_configs(cfg) if cfg is not None else \
        [None] * len(recognizer.members)
    members = [dict(dir=f'member_{i}', input_key=key)
               for i, key in enumerate(recognizer.input_keys)]
    with atomic_output_dir(out) as tmp:
        metas = []
        for i, (member, member_cfg) in enumerate(zip(recognizer.members,
                                                     configs)):
            path = export_model(member, backend, mode, frame_size,
                                osp.join(tmp, members[i]['dir']), frames,
                                member_cfg, config_path, checkpoint,
                                class_names, stateful,
                                state_layout=state_layout)
            meta = read_meta(path)
            meta['ensemble'] = dict(index=i, input_key=members[i]['input_key'],
                                    members=len(members))
            write_json(osp.join(path, META_FILE), meta)
            metas.append(meta)
        write_json(osp.join(tmp, META_FILE), dict(
            schema_version=SCHEMA_VERSION,
            format_version=FORMAT_VERSION,
            kind='ensemble',
            backend=backend,
            mode=mode,
            members=members,
            combine='mean',  # of the members' raw logits, before softmax
            multi_label=metas[0].get('multi_label', False),
            scores=metas[0].get('scores', 'softmax'),
            frame_size=list(frame_size),
            frames=frames,
            class_names=metas[0]['class_names'],
            num_classes=metas[0]['num_classes'],
            source=metas[0]['source'],
            movinet_mm_version=__version__,
            torch_version=torch.__version__))
    return out
