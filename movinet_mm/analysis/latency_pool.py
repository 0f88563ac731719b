"""Throughput of many streams at once (:class:`~movinet_mm.deploy.StreamPool`),
the ``--streams`` rows of ``tools/analysis/benchmark_latency.py``.

A row (``mode: 'pool'``) steps ``streams`` streams together: every timed
call feeds one frame to each of them (one pooled call), state carried.
Reported: median and p90 ms of one pooled call, ``frames_per_second``
(aggregate over every stream: streams / median call), ms per frame of one
stream, peak RSS and the model bytes. Backends:

- ``inference``: the PyTorch inference form in a :class:`StreamPool`
  (``torch.func.vmap`` of the one-stream step, traced once per batch size);
- ``ort``: onnxruntime on an ONNX export with a fixed pool dimension
  (:func:`~movinet_mm.deploy.export_pool`, one export per stream count,
  made in its own process before the rows);
- ``ort-loop``: onnxruntime on the usual batch-1 export, the pool calling
  it once per stream (no batching: the reference for ``ort``);
- ``litert-loop``: the same with the batch-1 LiteRT export (NHWC states),
  each worker with its own interpreter.

``workers`` (``--pool-workers``): the pool splits each call's streams into
that many shards run at once in as many threads, each with ``threads //
workers`` CPU threads (not for ``ort``, whose rows run in one call).

Each row runs in its own process, as the other rows of the benchmark
(``python -m movinet_mm.analysis.latency_pool SPEC_JSON``).
"""
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from .benchmark_utils import (
    peak_rss_bytes,
    print_result,
    run_worker,
    summarize,
)
from .latency import (
    DEFAULT_SIZES,
    REPO,
    _env,
    _log,
    _model_files_bytes,
    _save_random_checkpoint,
    _state_dict_bytes,
    _torch_setup,
    build_random_recognizer,
    stream_config,
)

POOL_BACKENDS = ('inference', 'ort', 'ort-loop', 'litert-loop')
# the runtime of each exported-model row, and the batch-1 export format a
# '-loop' row steps once per stream
POOL_RUNTIMES = {'ort': 'onnxruntime', 'ort-loop': 'onnxruntime',
                 'litert-loop': 'litert'}
LOOP_FORMATS = {'ort-loop': 'onnx', 'litert-loop': 'litert'}
FPS = 30  # a camera's frame rate, for the "30-fps streams" column


def plan(*, models: Sequence[str], threads: Sequence[int],
         streams: Sequence[int], backends: Sequence[str], size, warmup: int,
         frames: int, workers: Sequence[int] = (1, )) -> list:
    """Pool rows: for each (model, threads, backend, workers) every stream
    count (workers up to the threads and the streams)."""
    rows = []
    for arch in models:
        for n in threads:
            for backend in backends:
                if backend not in POOL_BACKENDS:
                    continue
                for w in workers:
                    if w > n or (w > 1 and backend == 'ort'):
                        continue
                    for k in streams:
                        if w > 1 and k < 2:
                            continue
                        rows.append(dict(mode='pool', arch=arch,
                                         size=size or DEFAULT_SIZES[arch],
                                         threads=n, backend=backend,
                                         workers=int(w), streams=int(k),
                                         warmup=warmup, frames=frames))
    return rows


# ------------------------------------------------------------- exporting
EXPORT_CODE = '''
import sys, torch
from movinet_mm.analysis.latency import build_random_recognizer
from movinet_mm.deploy import export_pool
config, ckpt, size, streams, out = sys.argv[1:]
model = build_random_recognizer(config)
model.load_state_dict(torch.load(ckpt, map_location='cpu')['state_dict'])
export_pool(model.eval(), (int(size), int(size)), out, int(streams),
            force=True)
'''


def export_models(rows, work_dir: Path, *, reuse: bool,
                  log: Callable[[str], None] = _log) -> dict:
    """The exports the ``ort`` rows (a pool export per stream count) and
    the ``-loop`` rows (the batch-1 export; streams 0 and its format in the
    key) need: {(arch, size, streams[, format]): model_dir or an error
    string}."""
    from .latency import export_models as export_batch1
    out = {}
    for arch, size, fmt in sorted({(r['arch'], r['size'],
                                    LOOP_FORMATS[r['backend']])
                                   for r in rows
                                   if r['backend'] in LOOP_FORMATS}):
        done = export_batch1(
            work_dir, {'models': [(arch, 'stream', size)],
                       'kinds': {'stream': {fmt}, 'clip': set()}},
            reuse=reuse, int8_calibration_frames=0, clip_frames=0, log=log)
        out[(arch, size, 0, fmt)] = done[(arch, 'stream', fmt)]
    for arch, size, streams in sorted({(r['arch'], r['size'], r['streams'])
                                       for r in rows
                                       if r['backend'] == 'ort'}):
        config = stream_config(arch)
        tag = f'{arch}_stream_{size}'
        ckpt = work_dir / f'{tag}_random.pth'
        if not ckpt.exists():
            _save_random_checkpoint(config, ckpt)
        dst = work_dir / tag / f'onnx-pool{streams}'
        if dst.exists() and reuse:
            out[(arch, size, streams)] = str(dst)
            continue
        log(f'[export] {tag} onnx pool of {streams} ...')
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, '-c', EXPORT_CODE, str(config), str(ckpt),
             str(size), str(streams), str(dst)],
            capture_output=True, text=True, cwd=str(REPO), env=_env(2))
        if proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ['?'])[-1]
            out[(arch, size, streams)] = f'error: export failed: {err}'
            log(f'[export] {tag} pool of {streams} failed: {err}')
        else:
            out[(arch, size, streams)] = str(dst)
            log(f'[export] {tag} pool of {streams} done in '
                f'{time.perf_counter() - t0:.0f} s')
    return out


# ---------------------------------------------------------------- worker
def _pool(spec: dict):
    """The pool of a row, every slot joined, and the model bytes."""
    from movinet_mm.deploy import StreamPool
    workers = spec.get('workers', 1)
    if spec['backend'] in POOL_RUNTIMES:
        from movinet_mm.deploy import load_runtime
        runtime = load_runtime(spec['model_dir'],
                               POOL_RUNTIMES[spec['backend']],
                               num_threads=spec['threads'] // workers)
        pool = StreamPool(runtime, slots=spec['streams'], workers=workers)
        model_bytes = _model_files_bytes(spec['model_dir'])
    else:
        from movinet_mm.deploy import build_inference_model
        size = spec['size']
        recognizer = build_random_recognizer(stream_config(spec['arch']))
        module = build_inference_model(recognizer, 'stream', (size, size))
        pool = StreamPool(module, slots=spec['streams'], workers=workers)
        model_bytes = _state_dict_bytes(module)
    for _ in range(spec['streams']):
        pool.join()
    return pool, model_bytes


def worker(spec: dict) -> dict:
    """Measure one pool row in this process."""
    import os
    threads = spec['threads'] // spec.get('workers', 1)
    os.environ['OMP_NUM_THREADS'] = str(threads)
    torch = _torch_setup(threads)
    import numpy as np
    pool, model_bytes = _pool(spec)
    n, size = spec['streams'], spec['size']
    rng = np.random.default_rng(0)
    frames = [rng.random((n, 3, 1, size, size), dtype=np.float32)
              for _ in range(4)]
    if pool.is_torch:
        frames = [torch.from_numpy(f) for f in frames]
    t0 = time.perf_counter()
    pool.step(frames[0])  # a PyTorch pool traces its graph here
    first_s = time.perf_counter() - t0
    times = []
    for i in range(spec['warmup'] + spec['frames']):
        t0 = time.perf_counter()
        pool.step(frames[i % len(frames)])
        dt = time.perf_counter() - t0
        if i >= spec['warmup']:
            times.append(dt)
    result = summarize(times)
    return dict(result, frames_per_second=n * 1000.0 / result['median_ms'],
                best_frames_per_second=n * 1000.0 / result['min_ms'],
                ms_per_stream_frame=result['median_ms'] / n,
                first_call_s=round(first_s, 1), model_bytes=model_bytes,
                peak_rss_bytes=peak_rss_bytes())


# ---------------------------------------------------------------- driver
def run_rows(rows, exports: dict, timeout: float,
             log: Callable[[str], None] = _log) -> list:
    """Measure every pool row, each in its own process."""
    results = []
    for spec in rows:
        name = (f'pool {spec["arch"]} t{spec["threads"]} {spec["backend"]} '
                f'w{spec.get("workers", 1)} x{spec["streams"]}')
        if spec['backend'] in POOL_RUNTIMES:
            fmt = LOOP_FORMATS.get(spec['backend'])
            key = (spec['arch'], spec['size'], 0, fmt) if fmt else \
                (spec['arch'], spec['size'], spec['streams'])
            where = exports.get(key, 'error: not exported')
            if where.startswith('error'):
                results.append(dict(spec, error=where[len('error: '):]))
                log(f'{name}: {where}')
                continue
            spec = dict(spec, model_dir=where)
        import os
        row = dict(spec, load_1min=round(os.getloadavg()[0], 1))
        cmd = [sys.executable, '-m', 'movinet_mm.analysis.latency_pool',
               json.dumps(spec)]
        try:
            result, stderr = run_worker(cmd, timeout=timeout, cwd=str(REPO),
                                        env=_env(spec['threads']))
        except subprocess.TimeoutExpired:
            result, stderr = None, f'timed out after {timeout:.0f} s'
        if result is None:
            tail = stderr.strip().splitlines()[-1:] or ['no output']
            row['error'] = tail[0][:300]
            log(f'{name}: error: {row["error"]}')
        else:
            row.update(result)
            log(f'{name}: {row["frames_per_second"]:.1f} frames/s, '
                f'median {row["median_ms"]:.1f} ms per call')
        results.append(row)
    return results


def markdown(rows) -> str:
    """The pool table: aggregate frames/s and its gain over one stream."""
    rows = [r for r in rows if r.get('mode') == 'pool']
    if not rows:
        return ''
    one = {(r['arch'], r['threads'], r['backend']): r['frames_per_second']
           for r in rows if r['streams'] == 1 and 'frames_per_second' in r}
    lines = ['### Many streams at once (one pooled call per frame of every '
             'stream)', '',
             '| model | input | threads | backend | workers | streams | ms '
             'per call (median) | p90 ms | frames/s (all streams) | best '
             f'frames/s | vs 1 stream | {FPS}-fps streams | peak RSS (MB) | '
             'load |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        head = (f'| {r["arch"].upper()}-Stream | {r["size"]}² | '
                f'{r["threads"]} | {r["backend"]} | {r.get("workers", 1)} | '
                f'{r["streams"]} |')
        if 'error' in r:
            lines.append(f'{head} n/a: {r["error"]} | | | | | | | |')
            continue
        fps = r['frames_per_second']
        base = one.get((r['arch'], r['threads'], r['backend']))
        gain = f'{fps / base:.2f}×' if base else '-'
        best = r.get('best_frames_per_second')
        best = f'{best:.1f}' if best else '-'
        lines.append(
            f'{head} {r["median_ms"]:.1f} | {r["p90_ms"]:.1f} | {fps:.1f} | '
            f'{best} | {gain} | {fps / FPS:.1f} | '
            f'{r["peak_rss_bytes"] / 1e6:.0f} | {r.get("load_1min", "-")} |')
    lines.append('')
    return '\n'.join(lines)


if __name__ == '__main__':  # a row's process (run_rows)
    print_result(worker(json.loads(sys.argv[1])))
