"""int8 for XNNPACK: PT2E post-training static quantization of the stream
step, lowered to an ExecuTorch program.

    quantize_xnnpack_model('exports/a0_stream_et', 'exports/a0_stream_et_int8',
                           videos=['v1.mp4', 'v2.mp4', ...])

The source is a float ``--backend executorch --mode stream`` export made
with a config and a checkpoint: PT2E quantizes the PyTorch graph, so the
step is rebuilt from the config and checkpoint its ``meta.json`` names (the
checkpoint's SHA-256 must still match). Then, with torchao's PT2E and
ExecuTorch's ``XNNPACKQuantizer`` (int8, per-channel symmetric weights):
export the inference form's step, insert observers, stream each calibration
video frame by frame with the state carried (as the ONNX path does), convert
and lower to the XNNPACK delegate. The result is an ordinary ExecuTorch
export directory (``model.pte`` + ``meta.json`` with a ``quantization``
record) that ``load_runtime`` and ``evaluate_exported.py`` run.

What stays in float:

- the running pool sums and their division (``GlobalAvgPool``): a sum grows
  with the stream's length, so a range calibrated on short videos would
  clip it on long ones and carry the error forward;
- the frame counters (integers).

There is no pad op: XNNPACK refuses the quantized pads the lowering makes
(``xnn_status_invalid_parameter`` at load time in executorch 1.5), and
float pads split the program into delegate segments, so the step's
stride-2 pads are folded into their convs and pools first
(``StreamInferenceModel.fold_pads``: a symmetric pad and a crop; same
outputs). Any pad the partitioner still met would stay outside the delegate.
"""
import os.path as osp
from typing import Any, Dict, Iterator, Optional, Sequence

from ..utils.errors import UnreadableVideoError
from ..utils.files import atomic_output_dir, sha256_file
from .meta import (
    META_FILE,
    QUANTIZE_TOOL,
    DeployError,
    check_model_dir,
    read_meta,
    write_json,
)
from .quantize import check_calibration_request, check_loads
from .schema import SCHEMA_VERSION

QUANTIZER = 'executorch XNNPACKQuantizer (torchao PT2E)'


def check_xnnpack_source(model_dir: str) -> Dict[str, Any]:
    """The meta of a float ExecuTorch stream export that can be re-traced,
    or a one-line error."""
    meta = read_meta(model_dir)
    if meta['backend'] != 'executorch':
        raise DeployError(f'{model_dir} holds a {meta["backend"]} export; '
                          'XNNPACK int8 starts from an ExecuTorch export '
                          '(tools/deployment/export.py --backend executorch)')
    if meta['mode'] != 'stream':
        raise DeployError(f'{model_dir} holds a {meta["mode"]} model; int8 '
                          'quantization is for the stream model (--mode '
                          'stream)')
    if meta.get('quantization'):
        raise DeployError(f'{model_dir} is already quantized; give the '
                          'float export')
    source = meta.get('source') or {}
    config, checkpoint = source.get('config'), source.get('checkpoint')
    if not config or not checkpoint:
        raise DeployError(f'{model_dir} was exported without a config and a '
                          'checkpoint; XNNPACK int8 re-traces the PyTorch '
                          'model: export with --checkpoint')
    for path in (config, checkpoint):
        if not osp.isfile(path):
            raise DeployError(f'{path}, which {model_dir} was exported from, '
                              'is missing')
    if source.get('checkpoint_sha256') and \
            sha256_file(checkpoint) != source['checkpoint_sha256']:
        raise DeployError(f'{checkpoint} changed since {model_dir} was '
                          'exported (SHA-256 differs): export again')
    return meta


def load_stream_step(meta: Dict[str, Any]):
    """The float inference form the export was made from."""
    from mmaction.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.registry import MODELS

    from ..utils.checkpoint import load_checked_checkpoint
    from .inference import build_inference_model
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(meta['source']['config'])
    recognizer = MODELS.build(cfg.model)
    load_checked_checkpoint(recognizer, meta['source']['checkpoint'])
    recognizer.eval()
    return build_inference_model(
        recognizer, 'stream', tuple(meta['frame_size']),
        state_layout=meta.get('state_layout') or 'eager').eval()


def integer_adds_as_scalar_ops(graph_module) -> int:
    """``count + 1`` on an integer tensor as ``aten.add.Scalar``.

    ``prepare_pt2e`` turns the Python scalar of ``aten.add.Tensor`` into a
    float32 constant, which breaks the int64 frame counters (a dtype
    assertion fails on the first call); the Scalar overload keeps it a
    number. Returns how many nodes changed.
    """
    import torch
    changed = 0
    for node in graph_module.graph.nodes:
        if node.op != 'call_function' or \
                node.target is not torch.ops.aten.add.Tensor or \
                not isinstance(node.args[1], (int, float)):
            continue
        value = node.args[0].meta.get('val')
        if value is not None and not value.dtype.is_floating_point:
            node.target = torch.ops.aten.add.Scalar
            changed += 1
    graph_module.recompile()
    return changed


def xnnpack_quantizer(per_channel: bool = True):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    from ..models.layers.pooling import GlobalAvgPool
    quantizer = XNNPACKQuantizer()
    quantizer.set_global(
        get_symmetric_quantization_config(is_per_channel=per_channel))
    quantizer.set_module_type(GlobalAvgPool, None)  # running sums: float
    return quantizer


def calibration_frames(meta: Dict[str, Any],
                       videos: Optional[Sequence[str]],
                       random_frames: Optional[int],
                       max_frames: Optional[int], log, report: Dict
                       ) -> Iterator[Iterator]:
    """One iterator of ``[1, 3, 1, h, w]`` float32 frames per stream.

    Unreadable videos are skipped (named in ``report['skipped']``)."""
    import numpy as np
    import torch
    if random_frames is not None:
        from ..datasets.frames import input_range
        pre = meta.get('preprocessing')
        low, high = input_range(pre) if pre else (0.0, 1.0)
        h, w = meta['frame_size']
        gen = torch.Generator().manual_seed(0)
        report['videos'] = 1
        yield (low + (high - low) * torch.rand(1, 3, 1, h, w, generator=gen)
               for _ in range(random_frames))
        return
    from ..datasets.frames import FramePipeline, read_video
    pipeline = FramePipeline.from_meta(meta)
    for path in videos:
        try:
            clip = read_video(path, pipeline, max_frames)
        except UnreadableVideoError as error:
            report['skipped'].append(str(error))
            if log:
                log(f'skipped: {error}')
            continue
        report['videos'] += 1
        clip = torch.from_numpy(np.ascontiguousarray(clip, np.float32))
        yield (clip[:, :, t:t + 1] for t in range(clip.shape[2]))


def lower_to_xnnpack(module, args, path: str) -> None:
    """``module`` exported and lowered to XNNPACK, pads left outside."""
    import torch
    from executorch.backends.xnnpack.partition.config import (
        ALL_PARTITIONER_CONFIGS,
        ConstantPadConfig,
    )
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
        XnnpackPartitioner,
    )
    from executorch.exir import to_edge_transform_and_lower
    configs = [c for c in ALL_PARTITIONER_CONFIGS
               if c is not ConstantPadConfig]
    program = torch.export.export(module, args)
    edge = to_edge_transform_and_lower(
        program, partitioner=[XnnpackPartitioner(configs=configs)])
    with open(path, 'wb') as f:
        f.write(edge.to_executorch().buffer)


def quantize_xnnpack_model(model_dir: str, out: str,
                           videos: Optional[Sequence[str]] = None, *,
                           random_frames: Optional[int] = None,
                           max_frames: Optional[int] = None,
                           per_channel: bool = True,
                           force: bool = False, log=print) -> str:
    """Write an XNNPACK int8 copy of the ExecuTorch stream export
    ``model_dir`` to ``out`` (atomically); returns its path.

    Args:
        videos: calibration video files, streamed with their states.
        random_frames: instead, this many random frames in the input's value
            range (latency benchmarks of untrained models only).
        max_frames: at most this many (sampled) frames per video.
        per_channel: one weight scale per output channel (the depthwise
            convs need it).
    """
    from .export import example_inputs, quiet_torchao_kernel_warnings, require
    require('executorch')
    meta = check_xnnpack_source(model_dir)
    check_calibration_request(videos, random_frames)
    out = check_model_dir(out, force, [model_dir, *(videos or ())],
                          QUANTIZE_TOOL)
    import torch
    quiet_torchao_kernel_warnings()
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    # no pad op: XNNPACK refuses quantized pads, which split the program
    step = load_stream_step(meta).fold_pads()
    args = example_inputs(step, 'stream')
    graph = torch.export.export(step, args).module()
    integer_adds_as_scalar_ops(graph)
    prepared = prepare_pt2e(graph, xnnpack_quantizer(per_channel))
    report = dict(videos=0, frames=0, skipped=[])
    with torch.no_grad():
        for frames in calibration_frames(meta, videos, random_frames,
                                         max_frames, log, report):
            states = step.init_states()
            for frame in frames:
                _, *states = prepared(frame, *states)
                report['frames'] += 1
    if not report['frames']:
        raise DeployError(
            f'none of the {len(videos)} calibration videos could be read: ' +
            '; '.join(report['skipped'][:3]))
    converted = convert_pt2e(prepared)

    with atomic_output_dir(out) as tmp:
        path = osp.join(tmp, meta['file'])
        lower_to_xnnpack(converted, args, path)
        qmeta = dict(meta)
        qmeta['schema_version'] = SCHEMA_VERSION
        qmeta['quantization'] = dict(
            tool=QUANTIZER,
            format='XNNPACK',
            activation_type='int8',
            activation_symmetric=False,
            weight_type='int8',
            per_channel=per_channel,
            reduce_range=False,
            # the quantizer's own observers: a histogram per activation
            # (HistogramObserver), min/max per weight channel
            calibrate_method='histogram',
            calibration=dict(
                kind='random frames' if random_frames else 'videos',
                videos=report['videos'], frames=report['frames'],
                max_frames_per_video=max_frames, skipped=report['skipped']),
            float_nodes=['GlobalAvgPool (running sums)', 'frame counters'],
            pads_folded=True,
            quantize_head=True,
            source_model=osp.abspath(osp.join(model_dir, meta['file'])),
            source_model_sha256=sha256_file(
                osp.join(model_dir, meta['file'])))
        write_json(osp.join(tmp, META_FILE), qmeta)
        check_loads(tmp, 'executorch')
    return out


__all__ = ['quantize_xnnpack_model', 'check_xnnpack_source',
           'integer_adds_as_scalar_ops', 'xnnpack_quantizer',
           'lower_to_xnnpack', 'load_stream_step']
