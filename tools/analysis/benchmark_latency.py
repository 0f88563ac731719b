"""CPU latency of MoViNet inference, every shipped backend and the official TF model, in one run.

    python tools/analysis/benchmark_latency.py                        # everything
    python tools/analysis/benchmark_latency.py --models a0 --threads 1 \\
        --backends eager ort tf --frames 100 --json out.json          # a small run

Rows (``--backends``):

- ``eager``: ``MoViNetRecognizer.stream_step`` (conv_type '2plus1d'), the
  PyTorch path a user gets without exporting; clip: the base model forward;
- ``inference``: ``movinet_mm.deploy.build_inference_model`` in eager torch;
- ``compile``: ``torch.compile`` of the inference form;
- ``ort`` / ``ort-int8``: the exported ONNX model (fp32, and int8 from
  ``tools/deployment/quantize.py``) through ``load_runtime``;
- ``openvino-f32`` / ``openvino-bf16``: OpenVINO (reading the ONNX export) with
  ``INFERENCE_PRECISION_HINT`` f32 and bf16 (bf16 is OpenVINO's default only
  on CPUs with AVX-512-BF16/AMX; elsewhere the plugin stays in f32 and the
  row says so);
- ``openvino-stateful``: the stateful form (``export.py --stateful``: the
  state kept in the infer request, only the frame goes in);
- ``executorch``: the XNNPACK ``.pte``;
- ``tf``: the official TF model (tf-models-official ``movinet.Movinet``, causal
  '2plus1d', se '2plus3d', hard swish, external states, ``tf.function``; the
  base model for the clip row), run by ``--tf-python`` (``.venv-tf``).

Every row runs in its own process (so peak RSS does not mix), with random
weights, batch 1, the thread count set through the runtime's own option and
``OMP_NUM_THREADS``. Stream rows: ``--warmup`` frames, then ``--frames``
timed frames, each a call of one step with the state carried; clip rows:
one 50-frame clip (``--clip-frames``), ``--clip-runs`` timed forwards after
one warm-up. Rows are interleaved: for each (model, threads) every backend
runs before the next. Exports (ONNX, ExecuTorch, int8; OpenVINO reads the
ONNX) are made first with the project's tools (tools/deployment/export.py,
quantize.py) from a random checkpoint into ``--work-dir``.

Reported: median and p90 latency, peak RSS of the process (VmHWM, which
includes the interpreter and libraries), model file size (exported file(s);
a torch ``state_dict`` for torch rows; a TF checkpoint for TF), the ratio
to the TF row of the same model and threads (>1: faster than TF) and the
machine's 1-minute load average when the row started (other jobs on the
machine show up there).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STREAM_BACKENDS = ('eager', 'inference', 'compile', 'ort', 'ort-int8',
                   'openvino-f32', 'openvino-bf16', 'openvino-stateful',
                   'executorch', 'tf')
CLIP_BACKENDS = ('eager', 'inference', 'compile', 'ort', 'openvino-f32',
                 'openvino-bf16', 'tf')
DEFAULT_SIZES = {'a0': 172, 'a1': 172, 'a2': 224, 'a3': 256, 'a4': 290,
                 'a5': 320}
# backend -> the export it runs. OpenVINO reads the ONNX export directly
# (the graph an IR converted from it would hold; one export less per model)
EXPORTED = {'ort': 'onnx', 'ort-int8': 'onnx-int8', 'openvino-f32': 'onnx',
            'openvino-bf16': 'onnx', 'openvino-stateful': 'onnx',
            'executorch': 'executorch'}
RESULT_TAG = 'RESULT '


# ------------------------------------------------------------------ helpers
def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux VmHWM), or -1."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


def dir_bytes(path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob('*') if p.is_file())


def summarize(times_s) -> dict:
    ms = sorted(1000.0 * t for t in times_s)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return dict(median_ms=statistics.median(ms), p90_ms=p90,
                mean_ms=statistics.fmean(ms), min_ms=ms[0], n=len(ms))


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
                       'executorch': 'executorch'}.get(backend, 'openvino')
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
             if p.suffix in ('.onnx', '.xml', '.bin', '.pte', '.data')]
    return sum(p.stat().st_size for p in files) if files else \
        dir_bytes(model_dir)


def measure_stream(spec: dict) -> dict:
    backend, size = spec['backend'], spec['size']
    if backend in ('eager', 'inference', 'compile'):
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
        import contextlib
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
    backend, size, t = spec['backend'], spec['size'], spec['clip_frames']
    if backend in ('eager', 'inference', 'compile'):
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
            times = _time_calls(lambda: run(x), spec['clip_runs'])
        info = {}
    else:
        import numpy as np
        runtime, info = _load_runtime(backend, spec)
        x = np.random.default_rng(0).random((1, 3, t, size, size),
                                            dtype=np.float32)
        times = _time_calls(lambda: runtime.predict(x), spec['clip_runs'])
        model_bytes = _model_files_bytes(spec['model_dir'])
    return dict(summarize(times), model_bytes=model_bytes,
                peak_rss_bytes=peak_rss_bytes(), **info)


def _time_calls(call, runs: int) -> list:
    call()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


# --------------------------------------------------------- the TF worker
def _tf_setup(threads: int):
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def _tf_checkpoint_bytes(tf, model) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tf.train.Checkpoint(model=model).save(os.path.join(tmp, 'ckpt'))
        return dir_bytes(tmp)


def measure_tf(spec: dict) -> dict:
    """The official model, built as tensorflow/models' export_saved_model.py
    builds it (random weights: the Keras initialisers)."""
    tf = _tf_setup(spec['threads'])
    from official.projects.movinet.modeling import movinet, movinet_model
    import numpy as np
    arch, size = spec['arch'], spec['size']
    stream = spec['mode'] == 'stream'
    tf.random.set_seed(0)
    backbone = movinet.Movinet(
        model_id=arch, causal=stream,
        conv_type='2plus1d' if stream else '3d',
        se_type='2plus3d' if stream else '3d',
        activation='hard_swish' if stream else 'swish',
        gating_activation='hard_sigmoid' if stream else 'sigmoid',
        use_positional_encoding=stream and arch in ('a3', 'a4', 'a5'),
        use_external_states=stream)
    model = movinet_model.MovinetClassifier(backbone, num_classes=600,
                                            output_states=stream)
    rng = np.random.default_rng(0)
    if stream:
        shape = [1, 1, size, size, 3]
        model.build(shape)
        run = tf.function(lambda inputs: model(inputs, training=False))
        states = model.init_states(tf.constant(shape))
        frames = [tf.constant(rng.random(shape, dtype=np.float32))
                  for _ in range(8)]
        times = []
        for i in range(spec['warmup'] + spec['frames']):
            t0 = time.perf_counter()
            logits, states = run({**states, 'image': frames[i % 8]})
            logits.numpy()
            dt = time.perf_counter() - t0
            if i >= spec['warmup']:
                times.append(dt)
    else:
        shape = [1, spec['clip_frames'], size, size, 3]
        model.build(shape)
        run = tf.function(lambda x: model(x, training=False))
        x = tf.constant(rng.random(shape, dtype=np.float32))
        times = _time_calls(lambda: run(x).numpy(), spec['clip_runs'])
    return dict(summarize(times), model_bytes=_tf_checkpoint_bytes(tf, model),
                peak_rss_bytes=peak_rss_bytes(), tensorflow=tf.__version__)


def worker(spec: dict) -> dict:
    os.environ['OMP_NUM_THREADS'] = str(spec['threads'])
    if spec['backend'] == 'tf':
        return measure_tf(spec)
    if spec['mode'] == 'stream':
        return measure_stream(spec)
    return measure_clip(spec)


# ------------------------------------------------------------- exporting
def export_models(args, work_dir: Path, needed) -> dict:
    """Export the models the exported-backend rows need; returns
    {(arch, mode, backend): model_dir or an error string}."""
    out = {}
    for arch, mode, size in needed['models']:
        config = stream_config(arch) if mode == 'stream' else \
            base_config(arch)
        tag = f'{arch}_{mode}_{size}'
        ckpt = work_dir / f'{tag}_random.pth'
        kinds = sorted({EXPORTED[b] for b in needed['backends'][mode]
                        if b in EXPORTED})
        if not kinds:
            continue
        if not ckpt.exists() or not args.reuse_exports:
            _save_random_checkpoint(config, ckpt)
        for kind in kinds:
            backend = kind.replace('-int8', '')
            dst = work_dir / tag / kind
            if dst.exists() and args.reuse_exports:
                out[(arch, mode, kind)] = str(dst)
                continue
            if dst.exists():
                shutil.rmtree(dst)
            if kind == 'onnx-int8':
                src = out.get((arch, mode, 'onnx'))
                if src is None or src.startswith('error'):
                    out[(arch, mode, kind)] = 'error: no fp32 ONNX model'
                    continue
                cmd = [sys.executable,
                       str(REPO / 'tools/deployment/quantize.py'), src,
                       '--out', str(dst), '--random-calibration',
                       str(args.int8_calibration_frames)]
            else:
                cmd = [sys.executable,
                       str(REPO / 'tools/deployment/export.py'), str(config),
                       str(ckpt), '--backend', backend, '--mode', mode,
                       '--frame-size', str(size), str(size), '--out',
                       str(dst)]
                if mode == 'clip':
                    cmd += ['--frames', str(args.clip_frames)]
            print(f'[export] {tag} {kind} ...', flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  cwd=str(REPO), env=_env(2))
            if proc.returncode != 0:
                err = (proc.stderr.strip().splitlines() or ['?'])[-1]
                out[(arch, mode, kind)] = f'error: export failed: {err}'
                print(f'[export] {tag} {kind} failed: {err}', flush=True)
            else:
                out[(arch, mode, kind)] = str(dst)
                print(f'[export] {tag} {kind} done in '
                      f'{time.perf_counter() - t0:.0f} s', flush=True)
    return out


def _save_random_checkpoint(config: Path, path: Path) -> None:
    code = ('import sys, torch; sys.path.insert(0, sys.argv[3]); '
            'from benchmark_latency import build_random_recognizer as b; '
            'm = b(sys.argv[1]); '
            'torch.save({"state_dict": m.state_dict(), "meta": {}}, '
            'sys.argv[2])')
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    subprocess.run([sys.executable, '-c', code, str(config), str(tmp),
                    str(Path(__file__).parent)], check=True, cwd=str(REPO),
                   env=_env(2))
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
    python = tf_python if spec['backend'] == 'tf' else sys.executable
    cmd = [python, str(Path(__file__).resolve()), '--worker',
           json.dumps(spec)]
    row = dict(spec, load_1min=round(os.getloadavg()[0], 1))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, cwd=str(REPO),
                              env=_env(spec['threads']))
    except subprocess.TimeoutExpired:
        row['error'] = f'timed out after {timeout:.0f} s'
        return row
    lines = [line for line in proc.stdout.splitlines()
             if line.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or ['no output']
        row['error'] = tail[0][:300]
        return row
    row.update(json.loads(lines[-1][len(RESULT_TAG):]))
    return row


def plan(args) -> list:
    rows = []
    for arch in args.models:
        size = args.size or DEFAULT_SIZES[arch]
        for threads in args.threads:
            for backend in args.backends:
                if backend == 'compile' and args.compile_models is not None \
                        and arch not in args.compile_models:
                    continue
                if backend in STREAM_BACKENDS:
                    rows.append(dict(mode='stream', arch=arch, size=size,
                                     threads=threads, backend=backend))
    if args.clip:
        for threads in args.clip_threads:
            for backend in args.backends:
                if backend in CLIP_BACKENDS:
                    rows.append(dict(mode='clip', arch=args.clip_model,
                                     size=args.clip_size, threads=threads,
                                     backend=backend))
    for row in rows:
        row.update(warmup=args.warmup, frames=args.frames,
                   clip_frames=args.clip_frames, clip_runs=args.clip_runs)
    return rows


def _fmt_mb(n) -> str:
    return f'{n / 1e6:.1f}' if isinstance(n, (int, float)) and n >= 0 else '-'


def markdown(rows) -> str:
    tf_ref = {(r['mode'], r['arch'], r['threads']): r['median_ms']
              for r in rows if r['backend'] == 'tf' and 'median_ms' in r}
    lines = []
    for mode, title in (('stream', 'Per-frame streaming step (batch 1, one '
                         'frame per call)'),
                        ('clip', 'Whole clip (base model, batch 1)')):
        mine = [r for r in rows if r['mode'] == mode]
        if not mine:
            continue
        unit = 'frame' if mode == 'stream' else 'clip'
        lines += [f'### {title}', '',
                  f'| model | input | threads | backend | median ms/{unit} '
                  f'| p90 ms | vs TF | peak RSS (MB) | model file (MB) | load |',
                  '|---|---|---|---|---|---|---|---|---|---|']
        for r in mine:
            size = r['size']
            shape = (f'{size}²' if mode == 'stream' else
                     f'{r["clip_frames"]}×{size}²')
            name = r['arch'].upper() + ('-Stream' if mode == 'stream'
                                        else ' base')
            label = r['backend'] + (f' ({r["precision"]})' if 'precision' in
                                    r and r['backend'] in ('openvino-f32',
                                                           'openvino-bf16')
                                    else '')
            if 'error' in r:
                lines.append(f'| {name} | {shape} | {r["threads"]} | {label} '
                             f'| n/a: {r["error"]} | | | | | |')
                continue
            ref = tf_ref.get((mode, r['arch'], r['threads']))
            ratio = f'{ref / r["median_ms"]:.2f}×' if ref else '-'
            lines.append(
                f'| {name} | {shape} | {r["threads"]} | {label} | '
                f'{r["median_ms"]:.2f} | {r["p90_ms"]:.2f} | {ratio} | '
                f'{_fmt_mb(r["peak_rss_bytes"])} | '
                f'{_fmt_mb(r["model_bytes"])} | {r.get("load_1min", "-")} |')
        lines.append('')
    return '\n'.join(lines)


def machine() -> str:
    name = 'unknown CPU'
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith('Model name:'):
                name = line.split(':', 1)[1].strip()
    except OSError:
        pass
    return f'{name}, {os.cpu_count()} logical CPUs'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--models', nargs='+', default=['a0', 'a1', 'a2'],
                   choices=sorted(DEFAULT_SIZES))
    p.add_argument('--size', type=int, default=None,
                   help='frame size of every stream model (default: A0/A1 '
                   '172, A2 224, ...)')
    p.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    p.add_argument('--backends', nargs='+', default=list(STREAM_BACKENDS),
                   choices=STREAM_BACKENDS)
    p.add_argument('--compile-models', nargs='+', default=None,
                   choices=sorted(DEFAULT_SIZES),
                   help='only these models get torch.compile stream rows '
                   '(compiling takes minutes per row; default: all)')
    p.add_argument('--warmup', type=int, default=20)
    p.add_argument('--frames', type=int, default=200,
                   help='timed frames per stream row')
    p.add_argument('--no-clip', dest='clip', action='store_false',
                   help='skip the whole-clip rows')
    p.add_argument('--clip-model', default='a0', choices=sorted(DEFAULT_SIZES))
    p.add_argument('--clip-size', type=int, default=172)
    p.add_argument('--clip-frames', type=int, default=50)
    p.add_argument('--clip-runs', type=int, default=10)
    p.add_argument('--clip-threads', type=int, nargs='+', default=[2])
    p.add_argument('--int8-calibration-frames', type=int, default=64,
                   help='random frames streamed to calibrate the int8 row '
                   '(speed only: random weights have no accuracy to keep)')
    p.add_argument('--tf-python', default=str(REPO / '.venv-tf' / 'bin' /
                                              'python'))
    p.add_argument('--work-dir', default=str(REPO / 'work_dirs' /
                                             'benchmark_latency'))
    p.add_argument('--reuse-exports', action='store_true',
                   help='reuse exports already in --work-dir')
    p.add_argument('--row-timeout', type=float, default=900)
    p.add_argument('--json', help='also write every row to this JSON file')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ('warmup', 'frames', 'clip_frames', 'clip_runs'):
        if getattr(args, name) < (0 if name == 'warmup' else 1):
            p.error(f'--{name.replace("_", "-")} must be positive')
    if args.size is not None and args.size < 32:
        p.error('--size must be at least 32 (MoViNets stride by 32)')
    if 'tf' in args.backends and not os.path.isfile(args.tf_python):
        p.error(f'no TF Python at {args.tf_python}: build .venv-tf (make '
                'tf-venv) or leave out the tf backend')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(RESULT_TAG + json.dumps(worker(json.loads(args.worker))),
              flush=True)
        return 0
    rows = plan(args)
    load_before = os.getloadavg()
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    needed = {'models': sorted({(r['arch'], r['mode'], r['size'])
                                for r in rows}),
              'backends': {m: {r['backend'] for r in rows if r['mode'] == m}
                           for m in ('stream', 'clip')}}
    exports = export_models(args, work_dir, needed)
    results = []
    for spec in rows:
        if spec['backend'] in EXPORTED:
            kind = EXPORTED[spec['backend']]
            where = exports.get((spec['arch'], spec['mode'], kind),
                                'error: not exported')
            if where.startswith('error'):
                results.append(dict(spec, error=where[len('error: '):]))
                print(f'{spec["mode"]} {spec["arch"]} t{spec["threads"]} '
                      f'{spec["backend"]}: {where}', flush=True)
                continue
            spec = dict(spec, model_dir=where)
        row = run_row(spec, args.tf_python, args.row_timeout)
        results.append(row)
        if 'error' in row:
            print(f'{spec["mode"]} {spec["arch"]} t{spec["threads"]} '
                  f'{spec["backend"]}: error: {row["error"]}', flush=True)
        else:
            print(f'{spec["mode"]} {spec["arch"]} t{spec["threads"]} '
                  f'{spec["backend"]}: median {row["median_ms"]:.2f} ms, '
                  f'p90 {row["p90_ms"]:.2f} ms', flush=True)
    load_after = os.getloadavg()
    header = (f'Machine: {machine()}; batch 1, random weights; stream: '
              f'{args.frames} frames after {args.warmup} warm-up; clip: '
              f'median of {args.clip_runs} runs after 1 warm-up. Load '
              f'average (1 min) {load_before[0]:.1f} at the start, '
              f'{load_after[0]:.1f} at the end.')
    print('\n' + header + '\n\n' + markdown(results))
    if args.json:
        tmp = args.json + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(machine=machine(), load_average_start=load_before,
                           load_average_end=load_after, rows=results), f,
                      indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
