"""int8 post-training static quantization of an exported ONNX stream model.

    quantize_stream_model('exports/a0_stream_onnx', 'exports/a0_stream_int8',
                          videos=['v1.mp4', 'v2.mp4', ...])

onnxruntime's ``quantize_static`` in QDQ format, per-channel int8 weights,
calibrated on real streams: :class:`StreamCalibrationReader` decodes each
calibration video, preprocesses it as the export's ``meta.json`` says (the
config's test pipeline: resize, crop, mean/std, frame interval), feeds it
frame by frame through the float model and hands the quantizer every
``(image, state)`` pair it saw, so activations *and* states are calibrated on
the values they take in a stream.

Why onnxruntime rather than OpenVINO NNCF: the ONNX stream model is what the
other runtimes are made from, onnxruntime is in the deploy extra (NNCF is
not), and its QDQ model runs through the same ``load_runtime`` contract.

What stays in float (nodes excluded from quantization):

- the running pool sums and their divisions (every ``*_pool_buffer`` input
  to its ``_out`` and to the mean): a sum grows with the stream's length, so
  a range calibrated on short videos would clip it on long ones, and an
  error in it would be carried forward forever;
- the frame counters (int64; never quantized anyway);
- the classifier head (two small ``Gemm``), unless ``quantize_head``.

Integer kernels: on x86 without VNNI (AVX2 / AVX-512F) onnxruntime's u8s8
kernels use ``VPMADDUBSW``, whose int16 pair sums can saturate;
``reduce_range='auto'`` then quantizes the weights to 7 bits (onnxruntime's
advice); with VNNI/AMX (or on ARM) it keeps 8 bits.
"""
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from ..datasets.frames import FramePipeline as _FramePipeline
from ..datasets.frames import input_range, read_video
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
from .schema import SCHEMA_VERSION

ACTIVATION_TYPES = ('uint8', 'int8')
CALIBRATE_METHODS = ('minmax', 'percentile', 'entropy')
REDUCE_RANGE = ('auto', 'on', 'off')
POOL_PATH_OPS = ('Reshape', 'Add', 'Div', 'Cast', 'Unsqueeze', 'Squeeze',
                 'Mul', 'Sub', 'Expand')
HEAD_OPS = ('Gemm', 'MatMul')


# the old names: FramePipeline(preprocessing, frame_size), VideoReadError
FramePipeline = _FramePipeline.from_description
VideoReadError = UnreadableVideoError


def videos_from_ann_file(ann_file: str, data_prefix: str = '') -> List[tuple]:
    """``(path, label)`` of MMAction2's ``VideoDataset`` list (``path label``
    per line; the label may be missing)."""
    if not osp.isfile(ann_file):
        raise DeployError(f'annotation file {ann_file} not found; expected '
                          'lines "relative/path.mp4 label"')
    items = []
    with open(ann_file) as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            label = None
            if len(parts) > 1:
                try:
                    label = int(parts[1])
                except ValueError:
                    raise DeployError(
                        f'{ann_file}:{number}: expected "path label" with '
                        f'an integer label, got {line.strip()!r}') from None
            items.append((osp.join(data_prefix, parts[0]), label))
    if not items:
        raise DeployError(f'{ann_file} lists no videos')
    return items


def videos_from_config(config: str, split: str = 'test') -> List[tuple]:
    """``(path, label)`` of a config's ``{split}_dataloader`` data set."""
    from mmengine.config import Config
    if split not in ('train', 'val', 'test'):
        raise DeployError(f"split must be 'train', 'val' or 'test', got "
                          f'{split!r}')
    cfg = Config.fromfile(config)
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise DeployError(f'{config} has no {split}_dataloader.dataset')
    dataset = loader['dataset']
    prefix = dataset.get('data_prefix', {})
    prefix = prefix.get('video', '') if isinstance(prefix, dict) else \
        (prefix or '')
    if 'ann_file' not in dataset:
        raise DeployError(f'{config}: {split}_dataloader.dataset has no '
                          'ann_file')
    return videos_from_ann_file(dataset['ann_file'], prefix)


# -------------------------------------------------------------- calibration
class _ChunkedReader:
    """An onnxruntime ``CalibrationDataReader`` read in chunks.

    ``quantize_static(extra_options={'CalibStridedMinMax': n})`` calls
    ``set_range`` for consecutive chunks of ``n`` samples and merges each
    chunk's ranges, so only one chunk of intermediate outputs is held at a
    time. (``CalibMaxIntermediateOutputs`` is not used: onnxruntime 1.32
    drops every full batch of outputs without computing its ranges.) The
    samples of a stream come in order, so a chunk just continues the stream.
    """

    samples = 0
    _budget: Optional[int] = None

    def _generate(self) -> Iterator[Dict[str, np.ndarray]]:
        raise NotImplementedError

    def _stream(self, frames: Iterator[np.ndarray]):
        """(frame, state) samples of one stream, the state from the float
        model."""
        state = self.runtime.init_state()
        for frame in frames:
            values = [frame] + [state[n] for n in self.runtime.state_names]
            self.samples += 1
            yield dict(zip(self.input_names, values))
            _, state = self.runtime.stream_step(frame, state)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._budget = end_index - start_index

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        if self._budget is not None:
            if self._budget <= 0:
                return None
            self._budget -= 1
        return next(self._iter, None)

    def chunk_size(self, limit: int = 64) -> int:
        """The largest chunk <= ``limit`` that divides the sample count."""
        total = len(self)
        return max(d for d in range(1, min(limit, total) + 1)
                   if total % d == 0)


class StreamCalibrationReader(_ChunkedReader):
    """Calibration samples from real streams.

    Each video is streamed frame by frame through the float model (an
    onnxruntime session of ``model_dir``); every step's inputs (the frame and
    the state the float model carried to it) are one calibration sample.
    Unreadable videos are found by a first pass (which also counts the
    samples, as the chunked calibration needs), named in ``skipped`` and left
    out.
    """

    def __init__(self, model_dir: str, videos: Sequence[str],
                 max_frames: Optional[int] = None,
                 log=None):
        from .runtime import load_runtime
        if not videos:
            raise DeployError('no calibration videos: give video files, an '
                              'annotation file or a config split')
        self.runtime = load_runtime(model_dir, 'onnxruntime')
        if self.runtime.mode != 'stream':
            raise DeployError(f'{model_dir} holds a {self.runtime.mode} '
                              'model; int8 calibration streams a stream model')
        self.pipeline = _FramePipeline.from_meta(self.runtime.meta)
        self.input_names = list(self.runtime.meta.get('input_names') or
                                ['image', *self.runtime.state_names])
        self.videos = list(videos)
        self.max_frames = max_frames
        self.skipped: List[str] = []
        self.readable: List[str] = []
        self.total = 0
        for path in self.videos:
            try:
                clip = read_video(path, self.pipeline, self.max_frames)
            except UnreadableVideoError as error:
                self.skipped.append(str(error))
                if log:
                    log(f'skipped: {error}')
                continue
            self.readable.append(path)
            self.total += clip.shape[2]
        if not self.readable:
            raise DeployError(
                f'none of the {len(self.videos)} calibration videos could be '
                'read: ' + '; '.join(self.skipped[:3]))
        self.used_videos = len(self.readable)
        self._iter = self._generate()

    def __len__(self) -> int:
        return self.total

    def _generate(self):
        for path in self.readable:
            clip = read_video(path, self.pipeline, self.max_frames)
            yield from self._stream(
                np.ascontiguousarray(clip[:, :, t:t + 1])
                for t in range(clip.shape[2]))


class RandomFrameReader(_ChunkedReader):
    """Calibration on random frames in the input's value range, streamed
    with their states: for latency measurements of untrained models only
    (it says nothing about accuracy)."""

    def __init__(self, model_dir: str, frames: int, seed: int = 0):
        from .runtime import load_runtime
        self.runtime = load_runtime(model_dir, 'onnxruntime')
        self.input_names = list(self.runtime.meta.get('input_names') or
                                ['image', *self.runtime.state_names])
        pre = self.runtime.meta.get('preprocessing')
        self.range = input_range(pre) if pre else (0.0, 1.0)
        self.frames = frames
        self.rng = np.random.default_rng(seed)
        self.skipped: List[str] = []
        self.used_videos = 1
        self._iter = self._generate()

    def __len__(self) -> int:
        return self.frames

    def _generate(self):
        h, w = self.runtime.frame_size
        yield from self._stream(
            self.rng.uniform(*self.range, (1, 3, 1, h, w)).astype(np.float32)
            for _ in range(self.frames))


# ------------------------------------------------------------- graph rules
def float_nodes(model, state_names: Sequence[str],
                quantize_head: bool = False) -> List[str]:
    """Names of the nodes kept in float (see the module docstring).

    From every ``*_pool_buffer`` / ``*_frame_count`` graph input, the nodes
    reached through shape and elementwise ops (``POOL_PATH_OPS``); the walk
    stops at the first Conv, Concat or Gemm, which see only the bounded mean.
    Plus the head's Gemm/MatMul nodes unless ``quantize_head``.
    """
    graph = model.graph
    consumers: Dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    starts = [n for n in state_names
              if n.endswith(('_pool_buffer', '_frame_count'))]
    keep, todo = set(), list(starts)
    while todo:
        tensor = todo.pop()
        for node in consumers.get(tensor, []):
            if node.op_type not in POOL_PATH_OPS or node.name in keep:
                continue
            keep.add(node.name)
            todo.extend(node.output)
    if not quantize_head:
        for node in graph.node:
            if node.op_type in HEAD_OPS:
                keep.add(node.name)
    return sorted(keep)


def cpu_has_vnni() -> bool:
    """True where int8 dot products do not saturate (VNNI, AMX; or not x86)."""
    import platform
    if platform.machine().lower() not in ('x86_64', 'amd64', 'i386', 'i686'):
        return True
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    flags = set(line.split(':', 1)[1].split())
                    return bool(flags & {'avx512_vnni', 'avx_vnni',
                                         'amx_int8'})
    except OSError:
        pass
    return False


# ------------------------------------------------------------------- driver
def check_source(model_dir: str) -> Dict[str, Any]:
    """The meta of an fp32 ONNX stream export, or a one-line error."""
    meta = read_meta(model_dir)
    if meta['backend'] != 'onnx':
        raise DeployError(f'{model_dir} holds a {meta["backend"]} export; '
                          'int8 quantization needs an ONNX or ExecuTorch '
                          'export (tools/deployment/export.py --backend onnx '
                          'or executorch)')
    if meta['mode'] != 'stream':
        raise DeployError(f'{model_dir} holds a {meta["mode"]} model; int8 '
                          'quantization is for the stream model (--mode '
                          'stream)')
    if meta.get('quantization'):
        raise DeployError(f'{model_dir} is already quantized; give the '
                          'float export')
    return meta


def quantize_stream_model(model_dir: str, out: str,
                          videos: Optional[Sequence[str]] = None,
                          *,
                          random_frames: Optional[int] = None,
                          max_frames: Optional[int] = None,
                          activation_type: str = 'uint8',
                          reduce_range: str = 'auto',
                          per_channel: bool = True,
                          calibrate_method: str = 'minmax',
                          quantize_head: bool = False,
                          calibration_chunk: int = 64,
                          force: bool = False,
                          log=print) -> str:
    """Write an int8 copy of the ONNX stream export ``model_dir`` to ``out``
    (an ExecuTorch export goes to :func:`~movinet_mm.deploy.quantize_xnnpack.
    quantize_xnnpack_model`: XNNPACK int8).

    Args:
        model_dir: a float ``--backend onnx --mode stream`` export.
        out: the new model directory (``model.onnx`` + ``meta.json`` with a
            ``quantization`` record); written atomically.
        videos: calibration video files (see :func:`videos_from_ann_file`).
        random_frames: instead of videos, calibrate on this many random
            frames (latency benchmarks of untrained models only).
        max_frames: at most this many (sampled) frames per video.
        activation_type: 'uint8' (asymmetric; onnxruntime's x86 choice) or
            'int8' (symmetric; ARM).
        reduce_range: 'auto' (7-bit weights on x86 without VNNI), 'on', 'off'.
        per_channel: per-output-channel weight scales (needed by the
            depthwise convs).
        calibrate_method: 'minmax', 'percentile' (99.999) or 'entropy'.
        quantize_head: also quantize the classifier's Gemm layers.
        calibration_chunk: at most this many samples' intermediate outputs
            are held at a time (ranges are merged chunk by chunk; the result
            does not depend on it).
    """
    if read_meta(model_dir)['backend'] == 'executorch':
        from .quantize_xnnpack import quantize_xnnpack_model
        if calibrate_method != 'minmax' or activation_type != 'uint8' or \
                reduce_range != 'auto' or quantize_head:
            raise DeployError('an ExecuTorch export is quantized by XNNPACK\'s '
                              'own scheme: --activation-type, --reduce-range, '
                              '--calibrate-method and --quantize-head are for '
                              'ONNX exports')
        return quantize_xnnpack_model(
            model_dir, out, videos, random_frames=random_frames,
            max_frames=max_frames, per_channel=per_channel, force=force,
            log=log)
    import onnx
    from onnxruntime import __version__ as ort_version
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    meta = check_source(model_dir)
    if activation_type not in ACTIVATION_TYPES:
        raise DeployError(f'activation type must be one of '
                          f'{ACTIVATION_TYPES}, got {activation_type!r}')
    if reduce_range not in REDUCE_RANGE:
        raise DeployError(f'reduce_range must be one of {REDUCE_RANGE}, got '
                          f'{reduce_range!r}')
    if calibrate_method not in CALIBRATE_METHODS:
        raise DeployError(f'calibration method must be one of '
                          f'{CALIBRATE_METHODS}, got {calibrate_method!r}')
    check_calibration_request(videos, random_frames)
    out = check_model_dir(out, force, [model_dir, *(videos or ())],
                          QUANTIZE_TOOL)
    src = osp.join(model_dir, meta['file'])
    has_vnni = cpu_has_vnni()
    reduce = {'on': True, 'off': False, 'auto': not has_vnni}[reduce_range]

    if random_frames is not None:
        reader = RandomFrameReader(model_dir, random_frames)
    else:
        reader = StreamCalibrationReader(model_dir, videos, max_frames, log)
    model = onnx.load(src)
    keep_float = float_nodes(model, meta['state_names'], quantize_head)
    del model

    with atomic_output_dir(out) as tmp:
        dst = osp.join(tmp, 'model.onnx')
        method = {'minmax': CalibrationMethod.MinMax,
                  'percentile': CalibrationMethod.Percentile,
                  'entropy': CalibrationMethod.Entropy}[calibrate_method]
        act = QuantType.QUInt8 if activation_type == 'uint8' else \
            QuantType.QInt8
        extra = {'CalibStridedMinMax': reader.chunk_size(calibration_chunk),
                 'ActivationSymmetric': activation_type == 'int8'}
        if calibrate_method == 'percentile':
            extra['CalibPercentile'] = 99.999
        quantize_static(src, dst, reader, quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, reduce_range=reduce,
                        activation_type=act, weight_type=QuantType.QInt8,
                        nodes_to_exclude=keep_float, calibrate_method=method,
                        extra_options=extra)
        qmeta = dict(meta)
        qmeta['schema_version'] = SCHEMA_VERSION  # the layout written now
        qmeta['file'] = 'model.onnx'
        qmeta['quantization'] = dict(
            tool='onnxruntime.quantization.quantize_static',
            onnxruntime_version=ort_version,
            format='QDQ',
            activation_type=activation_type,
            activation_symmetric=activation_type == 'int8',
            weight_type='int8',
            per_channel=per_channel,
            reduce_range=reduce,
            reduce_range_reason=(
                f'{reduce_range}: this CPU has '
                f'{"VNNI/AMX" if has_vnni else "no VNNI"}'),
            calibrate_method=calibrate_method,
            calibration=dict(
                kind='random frames' if random_frames else 'videos',
                videos=reader.used_videos,
                frames=reader.samples,
                max_frames_per_video=max_frames,
                skipped=reader.skipped),
            float_nodes=keep_float,
            quantize_head=quantize_head,
            source_model=osp.abspath(src),
            source_model_sha256=sha256_file(src),
        )
        write_json(osp.join(tmp, META_FILE), qmeta)
        check_loads(tmp)
    return out


def check_calibration_request(videos: Optional[Sequence[str]],
                              random_frames: Optional[int]) -> None:
    """Calibration videos or a number of random frames, one of the two."""
    if (videos is None) == (random_frames is None):
        raise DeployError('give calibration videos or random_frames (one of '
                          'the two)')
    if videos is not None and not list(videos):
        raise DeployError('no calibration videos: give video files, an '
                          'annotation file or a config split')
    if random_frames is not None and random_frames < 1:
        raise DeployError(f'random_frames must be >= 1, got {random_frames}')


def check_loads(model_dir: str, runtime: str = 'onnxruntime') -> None:
    """One zero-state step through ``load_runtime``: the result must load."""
    from .runtime import load_runtime
    runtime = load_runtime(model_dir, runtime)
    h, w = runtime.frame_size
    logits, _ = runtime.stream_step(np.zeros((1, 3, 1, h, w), np.float32))
    if not np.all(np.isfinite(logits)):
        raise DeployError('the quantized model gives non-finite logits')


def quantization_summary(meta: Dict[str, Any]) -> str:
    q = meta.get('quantization') or {}
    if not q:
        return 'float32'
    return (f'int8 {q["format"]} (activations {q["activation_type"]}, '
            f'weights int8 {"per-channel" if q["per_channel"] else "per-tensor"}'
            f'{", 7-bit" if q["reduce_range"] else ""}; calibrated on '
            f'{q["calibration"]["frames"]} frames of '
            f'{q["calibration"]["videos"]} {q["calibration"]["kind"]})')


__all__ = ['quantize_stream_model', 'StreamCalibrationReader',
           'RandomFrameReader', 'FramePipeline', 'read_video',
           'videos_from_ann_file', 'videos_from_config', 'float_nodes',
           'cpu_has_vnni', 'check_source', 'check_calibration_request',
           'check_loads', 'VideoReadError',
           'quantization_summary']

