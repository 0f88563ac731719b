"""Many independent streams in one batched call: :class:`StreamPool`.

    step = build_inference_model(recognizer, 'stream', (172, 172))
    pool = StreamPool(step, slots=16)          # or a load_runtime(...) runtime
    cam = pool.join()                          # a free slot, zeroed state
    logits = pool.step({cam: frame})           # {slot: logits [K]}
    pool.reset(cam)                            # a new video in that slot
    pool.leave(cam)

Per-frame cost of a MoViNet stream step is mostly fixed per-op overhead, so
running N streams as one batch of N costs far less than N calls. Each slot
has its own state (the frame counts are per sample, int64 ``[slots]``), so
streams join, leave and reset at any frame without touching the others; a
slot that is not in a call keeps its state as it was.

Backends:

- PyTorch: a :class:`~movinet_mm.deploy.inference.StreamInferenceModel`
  (``build_inference_model(..., 'stream', ...)``). Its step is written for
  one stream; :class:`BatchedStream` maps it over a leading batch axis with
  ``torch.func.vmap``, and the pool traces that once per batch size into a
  plain aten graph (``make_fx``: no vmap overhead per call), so only the
  streams in a call are computed.
- An exported model (:func:`~movinet_mm.deploy.runtime.load_runtime`):
  :func:`export_pool` writes an ONNX stream model with a fixed pool
  dimension P (``streams`` in ``meta.json``; every input and output has P
  rows, names as in a batch-1 export); the pool runs all P rows per call
  (zero frames in the rows not called, whose outputs are dropped). A
  batch-1 export also works, one call per stream.
"""
import contextlib
import os.path as osp
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

from .meta import DeployError

Frames = Union[Mapping[int, object], np.ndarray, Tensor]


class BatchedStream(nn.Module):
    """N streams of a one-stream step in one call.

    ``forward(images [N, 3, 1, H, W], *states) -> (logits [N, K], *states)``
    with every state ``[N, ...]``: the stream step's state with its batch-1
    axis as the streams' axis (frame counts ``[N]`` int64), in the order of
    ``state_names``. Row i of every output depends only on row i of the
    inputs.

    Args:
        step: a :class:`StreamInferenceModel`.
        streams: the batch size ``init_states`` and ``state_shapes`` give
            (what :func:`export_pool` fixes); ``forward`` takes any N.
    """

    def __init__(self, step: nn.Module, streams: int = 1):
        super().__init__()
        self.step = step
        self.streams = int(streams)
        self.frame_size = tuple(step.frame_size)
        self.state_names = tuple(step.state_names)
        self.state_dtypes = dict(step.state_dtypes)
        self.state_layout = step.state_layout
        self.state_shapes = {n: (self.streams, *step.state_shapes[n][1:])
                             for n in self.state_names}
        self.num_classes = step.num_classes
        self.multi_label = getattr(step, 'multi_label', False)

    def init_states(self, streams: Optional[int] = None):
        n = self.streams if streams is None else int(streams)
        return tuple(torch.zeros((n, *self.state_shapes[k][1:]),
                                 dtype=self.state_dtypes[k])
                     for k in self.state_names)

    def _one(self, image: Tensor, *states: Tensor):
        out = self.step(image.unsqueeze(0), *(s.unsqueeze(0) for s in states))
        return tuple(o.squeeze(0) for o in out)

    def forward(self, images: Tensor, *states: Tensor):
        return torch.func.vmap(self._one)(images, *states)


def _mutable(is_torch: bool):
    """In-place writes to the states, which may be inference tensors (a
    step run under ``torch.inference_mode``)."""
    return torch.inference_mode() if is_torch else contextlib.nullcontext()


def _one_line(what: str, got, expected: str) -> ValueError:
    return ValueError(f'{what} has shape {tuple(got)}, expected {expected}')


class StreamPool:
    """``slots`` independent streams stepped together.

    Args:
        model: a ``StreamInferenceModel`` (PyTorch) or a stream runtime from
            ``load_runtime`` (a pool export from :func:`export_pool`, or a
            batch-1 export, run one stream at a time).
        slots: how many streams at most; None: the export's pool dimension
            (required for PyTorch and batch-1 exports).
        trace: PyTorch only: trace the batched step once per batch size
            (``make_fx``, a second or so at 172x172) instead of calling
            ``vmap`` every step (slower per call).
        workers: split each call's streams into this many shards run at
            once by as many Python threads (torch ops and the runtimes
            release the GIL); give each worker its share of the CPU threads
            (``torch.set_num_threads``, ``load_runtime(num_threads=...)``).
            A runtime that cannot run calls from several threads at once
            (every one but onnxruntime) is loaded once more per extra
            worker. Not for a pool export (its rows run in one call).

    ``step`` takes ``{slot: frame}`` (frames ``[1, 3, 1, H, W]``, or ``[3,
    1, H, W]``, preprocessed) and returns ``{slot: logits [K]}``, or a batch
    ``[k, 3, 1, H, W]`` with one frame for each of the ``k`` active slots in
    the order of ``active`` and returns logits ``[k, K]``. Logits are torch
    tensors for a PyTorch model, numpy arrays for a runtime.
    """

    def __init__(self, model, slots: Optional[int] = None,
                 trace: bool = True, workers: int = 1):
        from .runtime import Runtime
        self.is_torch = not isinstance(model, Runtime)
        if self.is_torch:
            if not (isinstance(model, nn.Module) and
                    hasattr(model, 'state_names') and
                    hasattr(model, 'init_states')):
                raise TypeError(
                    'StreamPool takes a stream inference model '
                    "(build_inference_model(recognizer, 'stream', size)) or "
                    f'a stream runtime (load_runtime), got '
                    f'{type(model).__name__}')
            self.batched = BatchedStream(model).eval()
            self.state_names = self.batched.state_names
            self.frame_size = self.batched.frame_size
            self.num_classes = model.num_classes
            self.fixed = None  # any batch size
            self._traced: Dict[int, Callable] = {}
            self.trace = trace
            row_shapes = {n: self.batched.state_shapes[n][1:]
                          for n in self.state_names}
            dtypes = self.batched.state_dtypes
        else:
            if model.mode != 'stream':
                raise DeployError(f'StreamPool needs a stream model; '
                                  f'{model.model_dir} holds a {model.mode} '
                                  'model')
            self.runtime = model
            self.state_names = model.state_names
            self.frame_size = model.frame_size
            self.num_classes = model.num_classes
            image = model.meta['inputs'][0]['shape']
            self.fixed = int(image[0]) if image and image[0] else 1
            row_shapes = {n: tuple(model.state_shapes[n][1:])
                          for n in self.state_names}
            dtypes = model.state_dtypes
            if slots is None and (self.fixed > 1 or
                                  model.meta.get('streams')):
                slots = self.fixed  # a pool export's own size
            if self.fixed > 1 and slots != self.fixed:
                raise ValueError(
                    f'{model.model_dir} was exported for a pool of '
                    f'{self.fixed} streams; slots must be {self.fixed} (or '
                    f'None), got {slots}')
        if slots is None or int(slots) < 1:
            raise ValueError(f'slots must be a positive number of streams, '
                             f'got {slots}')
        self.slots = int(slots)
        if isinstance(workers, bool) or not isinstance(workers, int) or \
                workers < 1:
            raise ValueError(f'workers must be a positive number of '
                             f'threads, got {workers!r}')
        if workers > 1 and not self.is_torch and self.fixed > 1:
            raise ValueError(f'{self.runtime.model_dir} is a pool export: '
                             'its rows run in one call, so workers must be '
                             '1 (or load a batch-1 export for workers > 1)')
        self.workers = workers
        self._executor = ThreadPoolExecutor(workers) if workers > 1 \
            else None
        # one runtime per worker unless it takes concurrent calls
        self._runtimes = [] if self.is_torch else [self.runtime]
        if workers > 1 and not self.is_torch and \
                not self.runtime.concurrent_calls:
            self._runtimes += [self.runtime.copy()
                               for _ in range(workers - 1)]
        self._trace_lock = threading.Lock()
        if self.is_torch:
            self.states = [torch.zeros((self.slots, *row_shapes[n]),
                                       dtype=dtypes[n])
                           for n in self.state_names]
        else:
            self.states = [np.zeros((self.slots, *row_shapes[n]), dtypes[n])
                           for n in self.state_names]
        self._active: List[bool] = [False] * self.slots

    def close(self) -> None:
        """Stop the worker threads (``workers > 1``)."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    # ------------------------------------------------------------ slots
    @property
    def active(self) -> tuple:
        """The slots streaming now, in increasing order."""
        return tuple(i for i, on in enumerate(self._active) if on)

    def _slot(self, slot, need_active: bool = True) -> int:
        if isinstance(slot, bool) or not isinstance(slot, (int, np.integer)) \
                or not 0 <= slot < self.slots:
            raise KeyError(f'no slot {slot!r}: slots are 0..{self.slots - 1}')
        if need_active and not self._active[slot]:
            raise KeyError(f'slot {slot} is not streaming (join() it first); '
                           f'active slots: {list(self.active)}')
        return int(slot)

    def join(self, slot: Optional[int] = None) -> int:
        """A free slot (the lowest, or ``slot``) with a zero state."""
        if slot is None:
            free = [i for i, on in enumerate(self._active) if not on]
            if not free:
                raise ValueError(f'the pool is full: all {self.slots} slots '
                                 'are streaming; leave() one first')
            slot = free[0]
        slot = self._slot(slot, need_active=False)
        if self._active[slot]:
            raise ValueError(f'slot {slot} is already streaming; reset() it '
                             'for a new video')
        self._zero(slot)
        self._active[slot] = True
        return slot

    def leave(self, slot: int) -> None:
        """End the stream in ``slot``; the slot is free for ``join``."""
        slot = self._slot(slot)
        self._active[slot] = False
        self._zero(slot)

    def reset(self, slot: int) -> None:
        """Start a new video in ``slot`` (zero state); others untouched."""
        self._zero(self._slot(slot))

    def _zero(self, slot: int) -> None:
        with _mutable(self.is_torch):
            for s in self.states:
                s[slot] = 0

    def state(self, slot: int) -> Dict[str, object]:
        """A copy of the slot's state, ``{name: [1, ...]}`` as the
        one-stream step's."""
        slot = self._slot(slot)
        return {n: s[slot:slot + 1].clone() if self.is_torch
                else s[slot:slot + 1].copy()
                for n, s in zip(self.state_names, self.states)}

    # ------------------------------------------------------------- step
    def _frame(self, x, what: str):
        h, w = self.frame_size
        if self.is_torch:
            x = x if isinstance(x, Tensor) else torch.from_numpy(np.asarray(x))
        else:
            x = x.detach().cpu().numpy() if isinstance(x, Tensor) \
                else np.asarray(x)
        shape = tuple(x.shape)
        if shape == (3, 1, h, w):
            x = x[None]
        elif shape != (1, 3, 1, h, w):
            raise _one_line(what, shape, f'[1, 3, 1, {h}, {w}] (one '
                            'preprocessed frame)')
        return x

    def _batch(self, frames: Frames):
        """(slots in order, frames [k, 3, 1, H, W]) of a call."""
        h, w = self.frame_size
        if isinstance(frames, Mapping):
            if not frames:
                raise ValueError('step() got no frames: pass {slot: frame}')
            slots = sorted(self._slot(s) for s in frames)
            rows = [self._frame(frames[s], f'the frame of slot {s}')
                    for s in slots]
            batch = torch.cat(rows) if self.is_torch else np.concatenate(rows)
            return slots, batch
        slots = list(self.active)
        if not slots:
            raise ValueError('no slot is streaming: join() one first')
        if self.is_torch and not isinstance(frames, Tensor):
            frames = torch.from_numpy(np.asarray(frames))
        if not self.is_torch:
            frames = frames.detach().cpu().numpy() \
                if isinstance(frames, Tensor) else np.asarray(frames)
        k = len(slots)
        if frames.ndim != 5 or tuple(frames.shape[1:]) != (3, 1, h, w):
            raise _one_line('the frame batch', frames.shape,
                            f'[{k}, 3, 1, {h}, {w}] (one frame per active '
                            'slot, in the order of active)')
        if frames.shape[0] != k:
            raise ValueError(f'the frame batch has {frames.shape[0]} frames '
                             f'for {k} active slots {slots}: one frame per '
                             'active slot, in the order of active (or pass '
                             '{slot: frame})')
        return slots, frames

    def step(self, frames: Frames):
        """Feed one frame to each stream named (dict) or to every active
        stream (batch); returns the logits in the same form."""
        slots, batch = self._batch(frames)
        if self.is_torch:
            batch = batch.to(torch.float32)
        else:
            batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self._executor is None or len(slots) < 2:
            logits = self._step_part(slots, batch, 0)
        else:  # contiguous shards, one per worker
            bounds = np.linspace(0, len(slots), min(self.workers, len(slots))
                                 + 1).round().astype(int)
            parts = list(self._executor.map(
                lambda i: self._step_part(slots[bounds[i]:bounds[i + 1]],
                                          batch[bounds[i]:bounds[i + 1]], i),
                range(len(bounds) - 1)))
            logits = torch.cat(parts) if self.is_torch else \
                np.concatenate(parts)
        if isinstance(frames, Mapping):
            return {s: logits[i] for i, s in enumerate(slots)}
        return logits

    def _step_part(self, slots: List[int], batch, worker: int):
        if not self.is_torch:
            return self._step_runtime(
                slots, batch, self._runtimes[worker % len(self._runtimes)])
        with torch.no_grad():  # grad mode is per thread
            return self._step_torch(slots, batch)

    def _whole(self, slots: Sequence[int]) -> bool:
        return len(slots) == self.slots  # sorted and distinct: 0..slots-1

    def _run_torch(self, batch: Tensor, states: Sequence[Tensor]):
        k = batch.shape[0]
        if not self.trace:
            return self.batched(batch, *states)
        graph = self._traced.get(k)
        if graph is None:
            from torch.fx.experimental.proxy_tensor import make_fx
            with self._trace_lock:
                graph = self._traced.get(k)
                if graph is None:
                    graph = make_fx(self.batched)(batch, *states)
                    self._traced[k] = graph
        return graph(batch, *states)

    def _step_torch(self, slots: List[int], batch: Tensor) -> Tensor:
        if self._whole(slots):
            logits, *self.states = self._run_torch(batch, self.states)
            return logits
        index = torch.tensor(slots, dtype=torch.int64)
        logits, *new = self._run_torch(
            batch, [s.index_select(0, index) for s in self.states])
        with _mutable(True):
            for s, n in zip(self.states, new):
                s.index_copy_(0, index, n)
        return logits

    def _step_runtime(self, slots: List[int], batch: np.ndarray, runtime):
        run = runtime._run
        if self.fixed == 1:  # a batch-1 export: one call per stream
            rows = []
            for i, slot in enumerate(slots):
                out = run([batch[i:i + 1],
                           *(s[slot:slot + 1] for s in self.states)])
                rows.append(out[0])
                for s, n in zip(self.states, out[1:]):
                    s[slot:slot + 1] = n
            return np.concatenate(rows)
        if self._whole(slots):
            logits, *self.states = run([batch, *self.states])
            return logits
        # every row runs (the export's fixed pool); only the slots called
        # take their outputs
        full = np.zeros((self.slots, *batch.shape[1:]), np.float32)
        full[slots] = batch
        logits, *new = run([full, *self.states])
        for s, n in zip(self.states, new):
            s[slots] = n[slots]
        return logits[slots]


def export_pool(recognizer, frame_size: Sequence[int], out: str,
                streams: int, cfg=None, config_path: Optional[str] = None,
                checkpoint: Optional[str] = None,
                class_names: Optional[List[str]] = None,
                force: bool = False) -> str:
    """Export ``recognizer``'s stream step for a pool of ``streams`` streams
    to ONNX (``OUT/model.onnx`` + ``meta.json``); returns ``out``.

    As ``export_model(recognizer, 'onnx', 'stream', ...)``, with every input
    and output ``[streams, ...]`` (``image`` ``[streams, 3, 1, H, W]``,
    ``logits`` ``[streams, K]``, each state's batch axis ``streams``) and
    ``streams`` in ``meta.json``. Run it with
    ``StreamPool(load_runtime(out))``.
    """
    from ..utils.files import atomic_output_dir
    from .export import (
        META_FILE,
        MODEL_FILES,
        ONNX_OPSET,
        build_meta,
        check_model_dir,
        check_request,
        io_names,
        require,
        write_json,
    )
    from .inference import build_inference_model
    streams = int(streams)
    if streams < 1:
        raise DeployError(f'streams must be >= 1, got {streams}')
    frame_size = tuple(int(s) for s in frame_size)
    check_request(recognizer, 'onnx', 'stream', frame_size, None)
    out = check_model_dir(out, force, [checkpoint, config_path])
    require('onnx')
    require('onnxscript')
    step = build_inference_model(recognizer, 'stream', frame_size)
    model = BatchedStream(step, streams).eval()
    meta = build_meta(model, 'onnx', 'stream', None, cfg, config_path,
                      checkpoint, class_names)
    for spec in (meta['inputs'][0], meta['outputs'][0]):
        spec['shape'][0] = streams
    meta['streams'] = streams
    inputs, outputs = io_names(model, 'stream')
    h, w = frame_size
    example = (torch.zeros(streams, 3, 1, h, w), *model.init_states())
    with atomic_output_dir(out) as tmp:
        path = osp.join(tmp, MODEL_FILES['onnx'])
        torch.onnx.export(model, example, path, input_names=inputs,
                          output_names=outputs, opset_version=ONNX_OPSET,
                          dynamo=True, external_data=False, verbose=False)
        import onnx
        graph = onnx.load(path, load_external_data=False).graph
        if [i.name for i in graph.input] != inputs or \
                [o.name for o in graph.output] != outputs:
            raise RuntimeError('the exported ONNX names differ from the '
                               'expected ones')
        write_json(osp.join(tmp, META_FILE), meta)
    return out


__all__ = ['StreamPool', 'BatchedStream', 'export_pool']
