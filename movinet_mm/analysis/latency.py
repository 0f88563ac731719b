"""CPU latency of MoViNet inference on every shipped backend and the
official TF model (``tools/analysis/benchmark_latency.py`` documents the
rows and what is reported).

Each row runs in its own process (peak RSS must not mix): :func:`run_row`
starts ``python -m movinet_mm.analysis.latency SPEC_JSON`` (or
:mod:`.latency_tf` under the TF interpreter), which runs :func:`worker` and
prints one result line. Exports are made with the project's tools
(tools/deployment/export.py, quantize.py), as a user would make them, so
this module needs the source checkout (:data:`REPO`).

Optional runtimes (onnxruntime, openvino, executorch, tensorflow) are
imported only inside the rows that use them.
"""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

from .benchmark_utils import (
    dir_bytes,
    peak_rss_bytes,
    print_result,
    run_worker,
    summarize,
    time_calls,
)

REPO = Path(__file__).resolve().parents[2]
STREAM_BACKENDS = ('eager', 'inference', 'compile', 'ort', 'ort-int8',
                   'openvino-f32', 'openvino-bf16', 'openvino-stateful',
                   'executorch', 'executorch-int8', 'litert', 'tf', 'tflite')
CLIP_BACKENDS = ('eager', 'inference', 'compile', 'ort', 'openvino-f32',
                 'openvino-bf16', 'executorch', 'litert', 'tf')
DEFAULT_SIZES = {'a0': 172, 'a1': 172, 'a2': 224, 'a3': 256, 'a4': 290,
                 'a5': 320}
# backend -> the export it runs. OpenVINO reads the ONNX export directly
# (the graph an IR converted from it would hold; one export less per model)
EXPORTED = {'ort': 'onnx', 'ort-int8': 'onnx-int8', 'openvino-f32': 'onnx',
            'openvino-bf16': 'onnx', 'openvino-stateful': 'onnx',
            'executorch': 'executorch', 'executorch-int8': 'executorch-int8',
            'litert': 'litert', 'tflite': 'tflite'}
TORCH_BACKENDS = ('eager', 'inference', 'compile')
TF_BACKENDS = ('tf', 'tflite')  # run by the TF interpreter (latency_tf.py)
# the official model's .tflite in its export dir (latency_tf.convert_tflite)
TFLITE_FILE = 'official.tflite'


def _log(line: str) -> None:
    print(line, flush=True)  # rows take minutes: show each when done


def stream_config(arch: str) -> Path:
    return REPO / 'configs' / f'movinet_{arch}_stream_k600.py'


def base_config(arch: str) -> Path:
    return REPO / 'configs' / f'movinet_{arch}_k600.py'


# ------------------------------------------------------ torch-side workers
def _torch_setup(threads: int):
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.set_flush_denormal(True)
    return torch


def build_random_recognizer(config: Path, conv_type=None, seed: int = 0):
    """The config's recognizer with random weights, BN statistics and
    non-zero ReZero scales (so no branch is dead)."""
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.config import Config

    import movinet_mm  # noqa: F401
    from movinet_mm.utils.random_weights import randomize_
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(str(config))
    if conv_type is not None:
        cfg.model.backbone.conv_type = conv_type
    model = MODELS.build(cfg.model)
    return randomize_(model, seed)


def _state_dict_bytes(module) -> int:
    import torch
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'weights.pth')
        torch.save(module.state_dict(), path)
        return os.path.getsize(path)


def _torch_stream_step(backend: str, spec: dict):
    """A step(frame) -> logits that carries its state, and the model bytes."""
    torch = _torch_setup(spec['threads'])
    arch, size = spec['arch'], spec['size']
    if backend == 'eager':
        model = build_random_recognizer(stream_config(arch), '2plus1d')
        box = {'state': None}

        def step(frame):
            logits, box['state'] = model.stream_step(frame, box['state'])
            return logits
        return step, _state_dict_bytes(model), {}
    from movinet_mm.deploy import build_inference_model
    recognizer = build_random_recognizer(stream_config(arch))
    module = build_inference_model(recognizer, 'stream', (size, size)).eval()
    run = module
    info = {}
    if backend == 'compile':
        t0 = time.perf_counter()
        run = torch.compile(module, fullgraph=True, dynamic=False)
    box = {'states': tuple(module.init_states())}

    def step(frame):
        logits, *states = run(frame, *box['states'])
        box['states'] = tuple(states)
        return logits
    if backend == 'compile':
        with torch.inference_mode():
            step(torch.rand(1, 3, 1, size, size))
        info['compile_s'] = round(time.perf_counter() - t0, 1)
        box['states'] = tuple(module.init_states())
    return step, _state_dict_bytes(module), info


def _load_runtime(backend: str, spec: dict):
    from movinet_mm.deploy.runtime import load_runtime
    runtime_backend = {'ort': 'onnxruntime', 'ort-int8': 'onnxruntime',
                       'executorch': 'executorch',
                       'executorch-int8': 'executorch',
                       'litert': 'litert'}.get(backend, 'openvino')
    precision = backend.split('-')[1] if backend.startswith('openvino-') \
        else 'f32'
    runtime = load_runtime(spec['model_dir'], runtime_backend,
                           num_threads=spec['threads'], precision=precision)
    info = {}
    if backend.startswith('openvino-'):
        info['precision'] = _type_name(runtime.compiled.get_property(
            'INFERENCE_PRECISION_HINT'))
    return runtime, info


def _type_name(ov_type) -> str:
    """'f32' / 'bf16' from an OpenVINO element type."""
    name = getattr(ov_type, 'get_type_name', None)
    return name() if callable(name) else str(ov_type)


def _stateful_openvino_step(spec: dict):
    """The stateful form (``export.py --backend openvino --stateful``: the
    state lives in the infer request, only the frame goes in), made from the
    ONNX export with the exporter's own ``make_stateful``; run through
    OpenVINO directly (``load_runtime`` is the explicit-state contract)."""
    import openvino as ov

    from movinet_mm.deploy.export import make_stateful
    from movinet_mm.deploy.meta import read_meta
    from movinet_mm.deploy.signal_stack import keep_signal_stack
    core = ov.Core()
    model_dir = Path(spec['model_dir'])
    meta = read_meta(str(model_dir))
    model = make_stateful(core.read_model(str(model_dir / meta['file'])),
                          meta['state_names'])
    with keep_signal_stack():
        compiled = core.compile_model(
            model, 'CPU',
            {'INFERENCE_NUM_THREADS': spec['threads'],
             'INFERENCE_PRECISION_HINT': 'f32'})
    request = compiled.create_infer_request()
    request.reset_state()
    output = compiled.outputs[0]

    def step(frame):
        return request.infer({'image': frame})[output]
    info = {'precision': _type_name(compiled.get_property(
        'INFERENCE_PRECISION_HINT'))}
    return step, _model_files_bytes(model_dir), info


def _runtime_stream_step(backend: str, spec: dict):
    """A step over an exported model directory through ``load_runtime``."""
    if backend == 'openvino-stateful':
        return _stateful_openvino_step(spec)
    runtime, info = _load_runtime(backend, spec)
    box = {'state': runtime.init_state()}

    def step(frame):
        logits, box['state'] = runtime.stream_step(frame, box['state'])
        return logits
    return step, _model_files_bytes(spec['model_dir']), info


def _model_files_bytes(model_dir) -> int:
    model_dir = Path(model_dir)
    files = [p for p in model_dir.iterdir()
             if p.suffix in ('.onnx', '.xml', '.bin', '.pte', '.data',
                             '.tflite')]
    return sum(p.stat().st_size for p in files) if files else \
        dir_bytes(model_dir)


def measure_stream(spec: dict) -> dict:
    """Per-frame latency of one stream row, state carried."""
    backend, size = spec['backend'], spec['size']
    if backend in TORCH_BACKENDS:
        import torch
        step, model_bytes, info = _torch_stream_step(backend, spec)
        gen = torch.Generator().manual_seed(0)
        frames = [torch.rand(1, 3, 1, size, size, generator=gen)
                  for _ in range(8)]
        context = torch.inference_mode
    else:
        import numpy as np
        step, model_bytes, info = _runtime_stream_step(backend, spec)
        rng = np.random.default_rng(0)
        frames = [rng.random((1, 3, 1, size, size), dtype=np.float32)
                  for _ in range(8)]
        context = contextlib.nullcontext
    times = []
    with context():
        for i in range(spec['warmup'] + spec['frames']):
            frame = frames[i % len(frames)]
            t0 = time.perf_counter()
            step(frame)
            dt = time.perf_counter() - t0
            if i >= spec['warmup']:
                times.append(dt)
    return dict(summarize(times), model_bytes=model_bytes,
                peak_rss_bytes=peak_rss_bytes(), **info)


def measure_clip(spec: dict) -> dict:
    """Whole-clip latency of one clip row (the base model)."""
    backend, size, t = spec['backend'], spec['size'], spec['clip_frames']
    if backend in TORCH_BACKENDS:
        torch = _torch_setup(spec['threads'])
        recognizer = build_random_recognizer(base_config(spec['arch']))
        if backend == 'eager':
            def run(x):
                return recognizer.cls_head(recognizer.backbone(x))
            module = recognizer
        else:
            from movinet_mm.deploy import build_inference_model
            module = build_inference_model(recognizer, 'clip', (size, size),
                                           frames=t).eval()
            run = module
            if backend == 'compile':
                run = torch.compile(module, fullgraph=True, dynamic=False)
        x = torch.rand(1, 3, t, size, size,
                       generator=torch.Generator().manual_seed(0))
        model_bytes = _state_dict_bytes(module)
        with torch.inference_mode():
            times = time_calls(lambda: run(x), spec['clip_runs'])
        info = {}
    else:
        import numpy as np
        runtime, info = _load_runtime(backend, spec)
        x = np.random.default_rng(0).random((1, 3, t, size, size),
                                            dtype=np.float32)
        times = time_calls(lambda: runtime.predict(x), spec['clip_runs'])
        model_bytes = _model_files_bytes(spec['model_dir'])
    return dict(summarize(times), model_bytes=model_bytes,
                peak_rss_bytes=peak_rss_bytes(), **info)


def worker(spec: dict) -> dict:
    """Measure one row (a :func:`plan` entry) in this process."""
    os.environ['OMP_NUM_THREADS'] = str(spec['threads'])
    if spec['backend'] in TF_BACKENDS:
        from .latency_tf import measure
        return measure(spec)
    if spec['mode'] == 'stream':
        return measure_stream(spec)
    return measure_clip(spec)


# ------------------------------------------------------------- exporting
def export_kind(spec: dict) -> str:
    """The export a row runs: ``EXPORTED[backend]``, plus ``@layout`` for a
    row with its own ``state_layout`` (else the backend's default)."""
    layout = spec.get('state_layout')
    kind = EXPORTED[spec['backend']]
    return f'{kind}@{layout}' if layout else kind


def needed_exports(rows) -> dict:
    """The models and exports (:func:`export_kind`) :func:`export_models`
    must cover."""
    return {'models': sorted({(r['arch'], r['mode'], r['size'])
                              for r in rows}),
            'kinds': {m: {export_kind(r) for r in rows if r['mode'] == m
                          and r['backend'] in EXPORTED}
                      for m in ('stream', 'clip')}}


def export_models(work_dir: Path, needed: dict, *, reuse: bool,
                  int8_calibration_frames: int, clip_frames: int,
                  log: Callable[[str], None] = _log,
                  tf_python: str = None) -> dict:
    """Export the models the exported-backend rows need; returns
    {(arch, mode, kind): model_dir or an error string}. The official
    model's ``.tflite`` (kind 'tflite') is converted by ``tf_python``."""
    out = {}
    for arch, mode, size in needed['models']:
        config = stream_config(arch) if mode == 'stream' else \
            base_config(arch)
        tag = f'{arch}_{mode}_{size}'
        ckpt = work_dir / f'{tag}_random.pth'
        kinds = set(needed['kinds'][mode])
        # an int8 model is made from its float export (of the same layout)
        kinds = sorted(kinds | {k.replace('-int8', '') for k in kinds
                                if '-int8' in k})
        if not kinds:
            continue
        if (not ckpt.exists() or not reuse) and set(kinds) - {'tflite'}:
            _save_random_checkpoint(config, ckpt)
        for kind in kinds:
            base, _, layout = kind.partition('@')
            backend = base.replace('-int8', '')
            fp32_kind = kind.replace('-int8', '')
            dst = work_dir / tag / kind
            # the official .tflite (random weights, seed 0) does not depend
            # on this code: converted once per work dir (minutes), then kept
            if (dst.exists() and reuse) or (dst / TFLITE_FILE).exists():
                out[(arch, mode, kind)] = str(dst)
                continue
            if dst.exists():
                shutil.rmtree(dst)
            if base in ('onnx-int8', 'executorch-int8'):
                src = out.get((arch, mode, fp32_kind))
                if src is None or src.startswith('error'):
                    out[(arch, mode, kind)] = f'error: no fp32 {backend} model'
                    continue
                cmd = [sys.executable,
                       str(REPO / 'tools/deployment/quantize.py'), src,
                       '--out', str(dst), '--random-calibration',
                       str(int8_calibration_frames)]
            elif base == 'tflite':  # the official model, the official way
                dst.mkdir(parents=True)
                cmd = [tf_python or 'python',
                       str(Path(__file__).with_name('latency_tf.py')),
                       '--convert', json.dumps(dict(arch=arch, size=size)),
                       str(dst / TFLITE_FILE)]
            else:
                cmd = [sys.executable,
                       str(REPO / 'tools/deployment/export.py'), str(config),
                       str(ckpt), '--backend', backend, '--mode', mode,
                       '--frame-size', str(size), str(size), '--out',
                       str(dst)]
                if mode == 'clip':
                    cmd += ['--frames', str(clip_frames)]
                if layout:
                    cmd += ['--state-layout', layout]
            log(f'[export] {tag} {kind} ...')
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  cwd=str(REPO), env=_env(2))
            if proc.returncode != 0:
                err = (proc.stderr.strip().splitlines() or ['?'])[-1]
                out[(arch, mode, kind)] = f'error: export failed: {err}'
                log(f'[export] {tag} {kind} failed: {err}')
                if kind == 'tflite':
                    shutil.rmtree(dst, ignore_errors=True)
            else:
                out[(arch, mode, kind)] = str(dst)
                log(f'[export] {tag} {kind} done in '
                    f'{time.perf_counter() - t0:.0f} s')
    return out


def _save_random_checkpoint(config: Path, path: Path) -> None:
    # in a subprocess: building the model must not grow this process
    code = ('import sys, torch; '
            'from movinet_mm.analysis.latency import '
            'build_random_recognizer as b; '
            'm = b(sys.argv[1]); '
            'torch.save({"state_dict": m.state_dict(), "meta": {}}, '
            'sys.argv[2])')
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    subprocess.run([sys.executable, '-c', code, str(config), str(tmp)],
                   check=True, cwd=str(REPO), env=_env(2))
    os.replace(tmp, path)


# ---------------------------------------------------------------- driver
def _env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
        env[var] = str(threads)
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO)] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def run_row(spec: dict, tf_python: str, timeout: float) -> dict:
    """Measure one row in a fresh process: the spec, the load average at
    its start and the result, or an ``error``."""
    if spec['backend'] in TF_BACKENDS:
        cmd = [tf_python, str(Path(__file__).with_name('latency_tf.py'))]
    else:
        cmd = [sys.executable, '-m', 'movinet_mm.analysis.latency']
    cmd.append(json.dumps(spec))
    row = dict(spec, load_1min=round(os.getloadavg()[0], 1))
    try:
        result, stderr = run_worker(cmd, timeout=timeout, cwd=str(REPO),
                                    env=_env(spec['threads']))
    except subprocess.TimeoutExpired:
        row['error'] = f'timed out after {timeout:.0f} s'
        return row
    if result is None:
        tail = stderr.strip().splitlines()[-1:] or ['no output']
        row['error'] = tail[0][:300]
        return row
    row.update(result)
    return row


def plan(*, models: Sequence[str], threads: Sequence[int],
         backends: Sequence[str], size, compile_models, clip: bool,
         clip_model: str, clip_size: int, clip_threads: Sequence[int],
         warmup: int, frames: int, clip_frames: int,
         clip_runs: int, state_layouts: Sequence[str] = ()) -> list:
    """The rows, interleaved: for each (model, threads) every backend;
    with ``state_layouts``, an exported backend's stream row once per
    layout (``state_layout`` in the row; the official TFLite file has its
    own)."""
    rows = []
    for arch in models:
        arch_size = size or DEFAULT_SIZES[arch]
        for n in threads:
            for backend in backends:
                if backend == 'compile' and compile_models is not None \
                        and arch not in compile_models:
                    continue
                if backend not in STREAM_BACKENDS:
                    continue
                row = dict(mode='stream', arch=arch, size=arch_size,
                           threads=n, backend=backend)
                if state_layouts and backend in EXPORTED and \
                        backend != 'tflite':
                    rows += [dict(row, state_layout=layout)
                             for layout in state_layouts]
                else:
                    rows.append(row)
    if clip:
        for n in clip_threads:
            for backend in backends:
                if backend in CLIP_BACKENDS:
                    rows.append(dict(mode='clip', arch=clip_model,
                                     size=clip_size, threads=n,
                                     backend=backend))
    for row in rows:
        row.update(warmup=warmup, frames=frames, clip_frames=clip_frames,
                   clip_runs=clip_runs)
    return rows


def _row_name(spec: dict) -> str:
    return f'{spec["mode"]} {spec["arch"]} t{spec["threads"]} ' \
        f'{_label(spec)}'


def _label(spec: dict) -> str:
    """The backend, and the state layout of a row that sets one."""
    layout = spec.get('state_layout')
    return spec['backend'] + (f' [{layout}]' if layout else '')


def run_rows(rows, exports: dict, tf_python: str, row_timeout: float,
             log: Callable[[str], None] = _log) -> list:
    """Measure every row, each in its own process; a row whose export
    failed gets that error without running."""
    results = []
    for spec in rows:
        if spec['backend'] in EXPORTED:
            kind = export_kind(spec)
            where = exports.get((spec['arch'], spec['mode'], kind),
                                'error: not exported')
            if where.startswith('error'):
                results.append(dict(spec, error=where[len('error: '):]))
                log(f'{_row_name(spec)}: {where}')
                continue
            spec = dict(spec, model_dir=where)
        row = run_row(spec, tf_python, row_timeout)
        results.append(row)
        if 'error' in row:
            log(f'{_row_name(spec)}: error: {row["error"]}')
        else:
            log(f'{_row_name(spec)}: median {row["median_ms"]:.2f} ms, '
                f'p90 {row["p90_ms"]:.2f} ms')
    return results


def merge_rounds(rounds: Sequence[list]) -> list:
    """One row per row of :func:`run_rows`' results over several rounds:
    the round with the median ``median_ms`` (its p90, memory and load),
    with ``rounds`` (those that ran) and ``range_ms`` (their lowest and
    highest median). A row that failed in every round keeps its error."""
    if len(rounds) == 1:
        return list(rounds[0])
    merged = []
    for runs in zip(*rounds):
        ok = sorted((r for r in runs if 'error' not in r),
                    key=lambda r: r['median_ms'])
        if not ok:
            merged.append(runs[0])
            continue
        medians = [r['median_ms'] for r in ok]
        merged.append(dict(ok[(len(ok) - 1) // 2], rounds=len(ok),
                           range_ms=[medians[0], medians[-1]]))
    return merged


# ---------------------------------------------------------------- report
def _fmt_mb(n) -> str:
    return f'{n / 1e6:.1f}' if isinstance(n, (int, float)) and n >= 0 else '-'


def markdown(rows) -> str:
    """The stream and clip tables, with each row's speed-up over the
    official TFLite model (the ``tflite`` row of the same model and
    threads; a table without one: over the ``tf`` row)."""
    lines = []
    for mode, title in (('stream', 'Per-frame streaming step (batch 1, one '
                         'frame per call)'),
                        ('clip', 'Whole clip (base model, batch 1)')):
        mine = [r for r in rows if r['mode'] == mode]
        if not mine:
            continue
        unit = 'frame' if mode == 'stream' else 'clip'
        anchor = 'tflite' if any(r['backend'] == 'tflite' for r in mine) \
            else 'tf'
        ref_of = {(r['arch'], r['threads']): r['median_ms'] for r in mine
                  if r['backend'] == anchor and 'median_ms' in r}
        vs = 'vs TFLite' if anchor == 'tflite' else 'vs TF'
        lines += [f'### {title}', '',
                  f'| model | input | threads | backend | median ms/{unit} '
                  f'| p90 ms | {vs} | peak RSS (MB) | model file (MB) | load |',
                  '|---|---|---|---|---|---|---|---|---|---|']
        for r in mine:
            size = r['size']
            shape = (f'{size}²' if mode == 'stream' else
                     f'{r["clip_frames"]}×{size}²')
            name = r['arch'].upper() + ('-Stream' if mode == 'stream'
                                        else ' base')
            label = _label(r) + (f' ({r["precision"]})' if 'precision' in
                                    r and r['backend'] in ('openvino-f32',
                                                           'openvino-bf16')
                                    else '')
            if 'error' in r:
                lines.append(f'| {name} | {shape} | {r["threads"]} | {label} '
                             f'| n/a: {r["error"]} | | | | | |')
                continue
            ref = ref_of.get((r['arch'], r['threads']))
            ratio = f'{ref / r["median_ms"]:.2f}×' if ref else '-'
            spread = (' ({:.2f}–{:.2f}, {} round{})'.format(
                *r['range_ms'], r['rounds'], 's' * (r['rounds'] > 1))
                if 'range_ms' in r else '')
            lines.append(
                f'| {name} | {shape} | {r["threads"]} | {label} | '
                f'{r["median_ms"]:.2f}{spread} | {r["p90_ms"]:.2f} | {ratio} | '
                f'{_fmt_mb(r["peak_rss_bytes"])} | '
                f'{_fmt_mb(r["model_bytes"])} | {r.get("load_1min", "-")} |')
        lines.append('')
    return '\n'.join(lines)


def machine() -> str:
    """CPU model name and logical CPU count."""
    name = 'unknown CPU'
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith('Model name:'):
                name = line.split(':', 1)[1].strip()
    except OSError:
        pass
    return f'{name}, {os.cpu_count()} logical CPUs'


def header(frames: int, warmup: int, clip_runs: int, load_before,
           load_after) -> str:
    """The line above the tables: machine, settings, load average."""
    return (f'Machine: {machine()}; batch 1, random weights; stream: '
            f'{frames} frames after {warmup} warm-up; clip: '
            f'median of {clip_runs} runs after 1 warm-up. Load '
            f'average (1 min) {load_before[0]:.1f} at the start, '
            f'{load_after[0]:.1f} at the end.')


if __name__ == '__main__':  # a row's process (run_row)
    print_result(worker(json.loads(sys.argv[1])))
