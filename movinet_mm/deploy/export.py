"""Export the inference form of a MoViNet to ONNX, OpenVINO IR or ExecuTorch.

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
"""
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from ..datasets.frames import describe_preprocessing
from ..models.backbones.movinet_arch import MIN_FRAME_SIZE
from ..utils.files import sha256_file
from .inference import build_inference_model
from .meta import (
    FORMAT_VERSION,
    META_FILE,
    DeployError,
    class_names_from_config,
    dtype_name,
    state_output_name,
    tensor_spec,
    write_json,
)

BACKENDS = ('onnx', 'openvino', 'executorch')
MODEL_FILES = {'onnx': 'model.onnx', 'openvino': 'model.xml',
               'executorch': 'model.pte'}
ONNX_OPSET = 18
INSTALL_HINT = 'pip install movinet_mm[deploy]'


class MissingPackageError(ImportError):
    """A runtime or exporter package is not installed."""


def require(module: str, package: Optional[str] = None):
    """Import ``module`` or raise a one-line error naming the pip extra."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(
            f'{package or module} is not installed; install the deploy '
            f'extra: {INSTALL_HINT}') from None


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


EXPORTERS = {'onnx': export_onnx, 'openvino': export_openvino,
             'executorch': export_executorch}


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
        format_version=FORMAT_VERSION,
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
        frame_size=[h, w],
        frames=frames,
        preprocessing=preprocessing,
        class_names=class_names,
        num_classes=num_classes,
        source=dict(
            config=osp.abspath(config_path) if config_path else None,
            checkpoint=osp.abspath(checkpoint) if checkpoint else None,
            checkpoint_sha256=sha256_file(checkpoint) if checkpoint else None),
        movinet_mm_version=__version__,
        torch_version=torch.__version__,
    )


# ------------------------------------------------------------------ driver
def check_out_dir(out: str, force: bool = False) -> str:
    """Refuse an ``out`` that is a file, or a non-empty dir without force."""
    out = osp.abspath(out)
    if osp.isfile(out) or (osp.exists(out) and not osp.isdir(out)):
        raise DeployError(f'--out {out} is an existing file; expected a '
                          'directory path (remove the file or choose '
                          'another --out)')
    if osp.isdir(out) and os.listdir(out) and not force:
        raise DeployError(f'--out {out} is a non-empty directory; remove it '
                          'or pass --force to replace it')
    return out


def check_request(recognizer, backend: str, mode: str,
                  frame_size: Sequence[int], frames: Optional[int]) -> None:
    if backend not in BACKENDS:
        raise DeployError(f'backend must be one of {BACKENDS}, got '
                          f'{backend!r}')
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
    if backend == 'executorch' and mode == 'clip' and frames is None:
        raise DeployError('ExecuTorch clip models have a fixed length: pass '
                          '--frames T')


def export_model(recognizer, backend: str, mode: str,
                 frame_size: Sequence[int], out: str,
                 frames: Optional[int] = None, cfg=None,
                 config_path: Optional[str] = None,
                 checkpoint: Optional[str] = None,
                 class_names: Optional[List[str]] = None,
                 stateful: bool = False, force: bool = False) -> str:
    """Export ``recognizer`` into the directory ``out``; returns its path.

    The directory holds ``MODEL_FILES[backend]`` and ``meta.json``; it is
    written atomically (a temp dir next to ``out``, renamed at the end).
    """
    frame_size = tuple(int(s) for s in frame_size)
    check_request(recognizer, backend, mode, frame_size, frames)
    if stateful and (backend != 'openvino' or mode != 'stream'):
        raise DeployError('--stateful is for --backend openvino --mode '
                          'stream')
    out = check_out_dir(out, force)
    {'onnx': lambda: (require('onnx'), require('onnxscript')),
     'openvino': lambda: require('openvino'),
     'executorch': lambda: require('executorch')}[backend]()
    model = build_inference_model(recognizer, mode, frame_size, frames)
    meta = build_meta(model, backend, mode, frames, cfg, config_path,
                      checkpoint, class_names, stateful)
    parent = osp.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.tmp-', dir=parent)
    try:
        path = osp.join(tmp, MODEL_FILES[backend])
        kwargs = dict(stateful=stateful) if backend == 'openvino' else {}
        EXPORTERS[backend](model, mode, path, frames, **kwargs)
        write_json(osp.join(tmp, META_FILE), meta)
        if osp.isdir(out):  # empty, or --force
            old = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.old-',
                                   dir=parent)
            os.replace(out, osp.join(old, 'previous'))
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
