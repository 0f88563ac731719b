"""Run exported MoViNets through one step contract, whatever the runtime.

    rt = load_runtime('exports/a0_stream_onnx')           # backend from meta.json
    state = rt.init_state()                                # name -> zeros
    for frame in frames:                                   # [1, 3, 1, H, W] float32
        logits, state = rt.stream_step(frame, state)       # logits [1, K]

``stream_step`` takes what ``MoViNetRecognizer.stream_step`` takes
(preprocessed float32 frames ``[1, 3, t, H, W]``, numpy or torch; t > 1 is
fed one frame at a time) and the state as a dict of numpy arrays named as
in ``recognizer.init_state``; ``predict(video)`` runs a clip model. Backends:
'onnxruntime' (a directory exported with ``--backend onnx``), 'openvino'
(``--backend openvino``, or an ONNX directory), 'executorch'
(``--backend executorch``) and 'litert' (``--backend litert``: a
``.tflite`` in ai-edge-litert's interpreter). Runtime packages: ``pip install
movinet_mm[deploy]`` (LiteRT: ``movinet_mm[litert]``).
"""
import os.path as osp
from contextlib import contextmanager
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from .export import MissingPackageError, require
from .meta import DeployError, frame_size_of, read_meta, state_output_name
from .schema import is_multi_label
from .signal_stack import keep_signal_stack

RUNTIMES = ('onnxruntime', 'openvino', 'executorch', 'litert')
# the runtimes that can run each exported format; the first is the default
RUNTIMES_OF = {'onnx': ('onnxruntime', 'openvino'),
               'openvino': ('openvino', ),
               'executorch': ('executorch', ),
               'litert': ('litert', )}
PRECISIONS = ('f32', 'bf16')
State = Dict[str, np.ndarray]


@contextmanager
def loading(path: str, runtime: str):
    """A model file the runtime cannot load (corrupt, truncated, another
    version): one line naming it, instead of the runtime's own error."""
    try:
        yield
    except (DeployError, MissingPackageError):
        raise
    except Exception as error:  # noqa: BLE001  (each runtime's own types)
        lines = [line.strip() for line in str(error).splitlines()
                 if line.strip()]
        reason = lines[-1][:200] if lines else type(error).__name__
        raise DeployError(f'{path} cannot be loaded by {runtime} ({reason}): '
                          'the file is corrupt or truncated; export it again '
                          '(tools/deployment/export.py)') from None


def check_pte_header(path: str) -> None:
    """Refuse a file that is not a whole ExecuTorch program before
    ExecuTorch reads it (some garbage aborts the process there)."""
    import os
    with open(path, 'rb') as f:
        head = f.read(40)
    size = os.path.getsize(path)
    if len(head) < 8 or head[4:6] != b'ET':
        raise DeployError(f'{path} is not an ExecuTorch program (no ET '
                          'identifier): the file is corrupt or truncated; '
                          'export it again (tools/deployment/export.py)')

    def field(at: int) -> int:
        return int.from_bytes(head[at:at + 8], 'little')

    if head[8:12] == b'eh00' and len(head) == 40:  # the extended header
        # header length, program size, segment offset, segment size
        segments = field(32) if int.from_bytes(head[12:16], 'little') > 24 \
            else 0
        expected = max(field(16), field(24) + segments if segments else 0)
        if size < expected:
            raise DeployError(f'{path} has {size} bytes, its header says '
                              f'{expected}: the file is corrupt or '
                              'truncated; export it again '
                              '(tools/deployment/export.py)')


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):  # a torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def class_probabilities(logits, multi_label: bool) -> np.ndarray:
    """Softmax over the last axis, or the per-class sigmoid if multi-label."""
    x = _to_numpy(logits).astype(np.float64)
    if multi_label:
        out = np.empty_like(x)
        pos = x >= 0  # no overflow for either sign
        out[pos] = 1 / (1 + np.exp(-x[pos]))
        e = np.exp(x[~pos])
        out[~pos] = e / (1 + e)
    else:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        out = e / e.sum(axis=-1, keepdims=True)
    return out.astype(np.float32)


class Runtime:
    """An exported model: ``meta``, state contract, ``stream_step``/``predict``."""

    backend = ''
    # whether one instance may run calls from several threads at once
    # (StreamPool's workers); else each worker gets its own copy()
    concurrent_calls = False

    def __init__(self, model_dir: str, meta: dict, num_threads=None,
                 precision: str = 'f32'):
        self.model_dir = model_dir
        self.meta = meta
        self.num_threads = num_threads
        self.precision = precision
        self.mode = meta['mode']
        self.frame_size = frame_size_of(meta)
        self.num_classes = int(meta['num_classes'])
        # multi-label models score classes by sigmoid, others by softmax
        self.multi_label = is_multi_label(meta)
        self.state_names = tuple(meta['state_names'])
        self.state_shapes = {s['name']: tuple(s['shape'])
                             for s in meta['states']}
        self.state_dtypes = {s['name']: np.dtype(s['dtype'])
                             for s in meta['states']}
        # the states' shapes are those of the export's layout, kept as they
        # are from call to call (movinet_mm.models.layers.state)
        self.state_layout = meta.get('state_layout') or 'eager'
        self.model_path = osp.join(model_dir, meta['file'])
        self._last_state = None

    # --------------------------------------------------------------- state
    def init_state(self) -> State:
        """Zero state of a new stream (what ``state=None`` means)."""
        self._need('stream')
        return {n: np.zeros(self.state_shapes[n], self.state_dtypes[n])
                for n in self.state_names}

    def check_state(self, state: Mapping[str, object]) -> State:
        """``state`` as numpy arrays, or a one-line error on any mismatch."""
        if not isinstance(state, Mapping):
            raise DeployError('the state must be a dict name -> array (from '
                              f'init_state or stream_step), got '
                              f'{type(state).__name__}')
        missing = [n for n in self.state_names if n not in state]
        unknown = sorted(set(state) - set(self.state_names))
        if missing or unknown:
            raise DeployError(
                f'state names do not match this model: missing {missing[:3]}'
                f'{"..." if len(missing) > 3 else ""}, unknown {unknown[:3]}'
                f'{"..." if len(unknown) > 3 else ""} (expected the '
                f'{len(self.state_names)} names of init_state)')
        out = {}
        for name in self.state_names:
            value = _to_numpy(state[name])
            if tuple(value.shape) != self.state_shapes[name]:
                raise DeployError(
                    f'state {name!r} has shape {tuple(value.shape)}, '
                    f'expected {self.state_shapes[name]} (model exported for '
                    f'frames of {self.frame_size[0]}x{self.frame_size[1]}, '
                    f'batch 1, {self.state_layout!r} state layout)')
            if value.dtype != self.state_dtypes[name]:
                raise DeployError(f'state {name!r} has dtype {value.dtype}, '
                                  f'expected {self.state_dtypes[name]}')
            out[name] = np.ascontiguousarray(value)
        return out

    def _need(self, mode: str) -> None:
        if self.mode != mode:
            call = 'stream_step' if mode == 'stream' else 'predict'
            other = 'predict' if mode == 'stream' else 'stream_step'
            raise DeployError(f'{call} needs a {mode} model; {self.model_dir} '
                              f'holds a {self.mode} model: use {other}')

    def _frames(self, x, what: str) -> np.ndarray:
        x = _to_numpy(x)
        h, w = self.frame_size
        if x.ndim != 5 or x.shape[0] != 1 or x.shape[1] != 3 or \
                x.shape[2] < 1:
            raise DeployError(f'{what} must be [1, 3, T, {h}, {w}] float32 '
                              f'(preprocessed RGB), got shape {x.shape}')
        if tuple(x.shape[3:]) != (h, w):
            raise DeployError(f'frames of {x.shape[3]}x{x.shape[4]}: this '
                              f'model was exported for {h}x{w} (export '
                              'again with --frame-size, or resize the '
                              'frames)')
        if x.dtype != np.float32:
            if not np.issubdtype(x.dtype, np.floating):
                raise DeployError(f'{what} must be float32 (preprocessed), '
                                  f'got {x.dtype}')
            x = x.astype(np.float32)
        return np.ascontiguousarray(x)

    # ---------------------------------------------------------------- calls
    def stream_step(self, inputs, state: Optional[Mapping] = None
                    ) -> Tuple[np.ndarray, State]:
        """Logits ``[1, K]`` after the frames ``inputs``, and the next state."""
        self._need('stream')
        frames = self._frames(inputs, 'inputs')
        if state is None:
            state = self.init_state()
        elif state is not self._last_state:  # ours is checked already
            state = self.check_state(state)
        values = [state[n] for n in self.state_names]
        logits = None
        for t in range(frames.shape[2]):
            outputs = self._run([frames[:, :, t:t + 1], *values])
            logits, values = outputs[0], outputs[1:]
        self._last_state = dict(zip(self.state_names, values))
        return logits, self._last_state

    def probabilities(self, logits) -> np.ndarray:
        """Class probabilities of ``logits`` ``[..., K]`` (from
        ``stream_step`` or ``predict``): per-class sigmoid for a multi-label
        model (meta.json ``multi_label``), else the softmax."""
        return class_probabilities(logits, self.multi_label)

    def predict(self, video) -> np.ndarray:
        """Logits ``[1, K]`` of a whole clip ``[1, 3, T, H, W]``."""
        self._need('clip')
        video = self._frames(video, 'video')
        frames = self.meta.get('frames')
        if frames is not None and video.shape[2] != frames:
            raise DeployError(f'this clip model was exported for {frames} '
                              f'frames, got {video.shape[2]}')
        return self._run([video])[0]

    def _run(self, inputs: List[np.ndarray]) -> List[np.ndarray]:
        raise NotImplementedError

    def copy(self) -> 'Runtime':
        """Another runtime of the same export and options (its own
        interpreter or request, for another thread)."""
        return type(self)(self.model_dir, self.meta, self.num_threads,
                          self.precision)


class OnnxRuntime(Runtime):
    backend = 'onnxruntime'
    concurrent_calls = True  # InferenceSession.run is thread-safe

    def __init__(self, model_dir, meta, num_threads=None, precision='f32'):
        super().__init__(model_dir, meta, num_threads, precision)
        ort = require('onnxruntime')
        if precision != 'f32':
            raise DeployError(f'onnxruntime runs the exported graph as it is '
                              f"(float32); precision {precision!r} is for "
                              'openvino')
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        options.graph_optimization_level = \
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        with loading(self.model_path, 'onnxruntime'):
            self.session = ort.InferenceSession(
                self.model_path, options, providers=['CPUExecutionProvider'])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _run(self, inputs):
        return self.session.run(self.output_names,
                                dict(zip(self.input_names, inputs)))


class OpenVINORuntime(Runtime):
    backend = 'openvino'

    def __init__(self, model_dir, meta, num_threads=None, precision='f32'):
        super().__init__(model_dir, meta, num_threads, precision)
        ov = require('openvino')
        if meta.get('stateful'):
            raise DeployError(
                f'{model_dir} is a stateful OpenVINO IR (the state lives in '
                'the infer request): run it with openvino directly '
                '(infer_request.reset_state() between videos), or export '
                'without --stateful for the explicit-state runtime')
        config = {'INFERENCE_PRECISION_HINT': precision}
        if num_threads:
            config['INFERENCE_NUM_THREADS'] = int(num_threads)
        core = ov.Core()
        path = self.model_path
        if meta['backend'] == 'openvino':  # an IR: model.xml + model.bin
            weights = osp.splitext(path)[0] + '.bin'
            if not osp.isfile(weights):
                raise DeployError(f'{model_dir} lacks {osp.basename(weights)}'
                                  f', the weights of {meta["file"]}: copy '
                                  'it along, or export again')
            path = f'{path} or its weights {weights}'
        # see signal_stack.py: a SIGSEGV otherwise
        with keep_signal_stack(), loading(path, 'openvino'):
            self.compiled = core.compile_model(
                core.read_model(self.model_path), 'CPU', config)
        self.request = self.compiled.create_infer_request()
        self.input_names = [i.get_any_name() for i in self.compiled.inputs]

    def _run(self, inputs):
        results = self.request.infer(dict(zip(self.input_names, inputs)))
        return [np.array(results[out]) for out in self.compiled.outputs]


class ExecuTorchRuntime(Runtime):
    backend = 'executorch'

    def __init__(self, model_dir, meta, num_threads=None, precision='f32'):
        super().__init__(model_dir, meta, num_threads, precision)
        if precision != 'f32':
            raise DeployError(f'the ExecuTorch program runs as exported '
                              f'(float32); precision {precision!r} is for '
                              'openvino')
        require('executorch')
        import torch
        from executorch.runtime import Runtime as ETRuntime
        if num_threads:
            from executorch.extension.pybindings import portable_lib
            portable_lib._unsafe_reset_threadpool(int(num_threads))
        self._torch = torch
        # The method runs on the program's memory: keep the program alive.
        check_pte_header(self.model_path)
        with loading(self.model_path, 'executorch'):
            self.program = ETRuntime.get().load_program(self.model_path)
            self.method = self.program.load_method('forward')

    def _run(self, inputs):
        tensors = [self._torch.from_numpy(np.ascontiguousarray(x))
                   for x in inputs]
        # Outputs live in the method's planned memory, which the next call
        # overwrites: copy them before they become the next state.
        return [t.numpy().copy() for t in self.method.execute(tensors)]


class LiteRTRuntime(Runtime):
    """A ``.tflite`` export in ai-edge-litert's interpreter (XNNPACK, as
    LiteRT applies it by default), called through its signature runner
    with meta.json's names mapped to the file's (``signature``). The state
    contract is the other runtimes' (int64 frame counts), cast to the
    file's dtypes (int32) and back at each call."""

    backend = 'litert'

    def __init__(self, model_dir, meta, num_threads=None, precision='f32'):
        super().__init__(model_dir, meta, num_threads, precision)
        if precision != 'f32':
            raise DeployError(f'the LiteRT model runs as exported (float32); '
                              f'precision {precision!r} is for openvino')
        interpreter = require('ai_edge_litert.interpreter', 'ai-edge-litert',
                              'litert')
        try:
            with open(self.model_path, 'rb') as f:
                head = f.read(8)
        except OSError as error:
            raise DeployError(f'{self.model_path} cannot be read '
                              f'({error.strerror}): copy it along with its '
                              'meta.json, or export again') from None
        if head[4:8] != b'TFL3':
            raise DeployError(f'{self.model_path} is not a LiteRT flatbuffer '
                              '(no TFL3 identifier): the file is corrupt or '
                              'truncated; export it again '
                              '(tools/deployment/export.py)')
        with loading(self.model_path, 'litert'):
            self.interpreter = interpreter.Interpreter(
                model_path=self.model_path,
                num_threads=int(num_threads) if num_threads else None)
            self.runner = self._bind(meta)
        contract = {'logits': np.dtype(np.float32), **{
            state_output_name(n): self.state_dtypes[n]
            for n in self.state_names}}
        self._out_dtypes = [contract.get(n, np.dtype(np.float32))
                            for n in self._output_names]

    def _bind(self, meta):
        """The signature runner, once the file's signature is meta.json's
        (names, shapes, dtypes); else one line."""
        signature = meta['signature']
        found = self.interpreter.get_signature_list()
        if signature['key'] not in found:
            raise DeployError(
                f'{self.model_path} has no signature {signature["key"]!r} '
                f'(it has {sorted(found)}): the model does not match its '
                'meta.json; export it again')
        runner = self.interpreter.get_signature_runner(signature['key'])
        self._input_keys, self._input_dtypes = [], []
        for field, details in (('inputs', runner.get_input_details()),
                               ('outputs', runner.get_output_details())):
            names = signature[field]
            if sorted(names.values()) != sorted(details):
                raise DeployError(
                    f'{self.model_path} has the {field} {sorted(details)[:3]}'
                    f'... ({len(details)}), its meta.json maps '
                    f'{sorted(names.values())[:3]}... ({len(names)}): the '
                    'model does not match its meta.json; export it again')
            for spec in meta[field]:
                key = names[spec['name']]
                shape = [int(d) for d in details[key]['shape']]
                dtype = np.dtype(details[key]['dtype'])
                if shape != spec['shape'] or dtype != np.dtype(spec['dtype']):
                    raise DeployError(
                        f'{self.model_path}: {field[:-1]} {spec["name"]!r} '
                        f'({key}) is {shape} {dtype.name} in the file, '
                        f'{spec["shape"]} {spec["dtype"]} in meta.json: the '
                        'model does not match its meta.json; export it again')
                if field == 'inputs':
                    self._input_keys.append(key)
                    self._input_dtypes.append(dtype)
        # the outputs in meta.json order (the contract's)
        self._output_keys = [signature['outputs'][s['name']]
                             for s in meta['outputs']]
        self._output_names = [s['name'] for s in meta['outputs']]
        return runner

    def _run(self, inputs):
        feed = {key: np.asarray(x, dtype)
                for key, x, dtype in zip(self._input_keys, inputs,
                                         self._input_dtypes)}
        results = self.runner(**feed)
        return [np.asarray(results[key], dtype) for key, dtype in
                zip(self._output_keys, self._out_dtypes)]


RUNTIME_CLASSES = {'onnxruntime': OnnxRuntime, 'openvino': OpenVINORuntime,
                   'executorch': ExecuTorchRuntime, 'litert': LiteRTRuntime}


def load_runtime(model_dir: str, backend: Optional[str] = None,
                 num_threads: Optional[int] = None,
                 precision: str = 'f32') -> Runtime:
    """The exported model in ``model_dir`` on ``backend``.

    Args:
        model_dir: a directory written by ``tools/deployment/export.py``.
        backend: 'onnxruntime', 'openvino', 'executorch' or 'litert'; None:
            the runtime of the exported format (onnx -> onnxruntime).
        num_threads: CPU threads (None: the runtime's default).
        precision: 'f32', or 'bf16' (OpenVINO only; its CPU default on
            AVX-512-BF16/AMX machines, hence f32 unless asked).
    """
    meta = read_meta(model_dir)
    fmt = meta['backend']
    if fmt not in RUNTIMES_OF:
        raise DeployError(f'{model_dir}/meta.json names the unknown format '
                          f'{fmt!r}; expected one of {sorted(RUNTIMES_OF)}')
    if backend is None:
        backend = RUNTIMES_OF[fmt][0]
    if backend not in RUNTIMES:
        raise DeployError(f'backend must be one of {RUNTIMES}, got '
                          f'{backend!r}')
    if backend not in RUNTIMES_OF[fmt]:
        raise DeployError(f'{model_dir} holds a {fmt} export, which '
                          f'{backend} cannot run; use one of '
                          f'{RUNTIMES_OF[fmt]} or export with --backend '
                          f'{"onnx" if backend == "onnxruntime" else backend}')
    if precision not in PRECISIONS:
        raise DeployError(f'precision must be one of {PRECISIONS}, got '
                          f'{precision!r}')
    return RUNTIME_CLASSES[backend](model_dir, meta, num_threads, precision)


__all__ = ['load_runtime', 'Runtime', 'RUNTIMES', 'DeployError',
           'MissingPackageError']
