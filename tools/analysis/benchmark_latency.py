"""CPU latency of MoViNet inference, every shipped backend and the official TF
model, in one run.

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
- ``executorch`` / ``executorch-int8``: the XNNPACK ``.pte`` (fp32, and int8
  by PT2E from ``tools/deployment/quantize.py``);
- ``litert``: the ``.tflite`` of ``export.py --backend litert`` (litert-torch)
  in ai-edge-litert's interpreter through ``load_runtime``;
- ``tf``: the official TF model (tf-models-official ``movinet.Movinet``, causal
  '2plus1d', se '2plus3d', hard swish, external states, ``tf.function``; the
  base model for the clip row), run by ``--tf-python`` (``.venv-tf``);
- ``tflite``: that stream model converted the official way (SavedModel with
  the flat ``{**states, 'image'}`` signature, ``TFLiteConverter``; converted
  once per ``--work-dir``, then kept) and run by ``tf.lite.Interpreter``'s
  signature runner, the states fed back by name: the reference of every
  ratio.

``--streams 1 4 16`` adds pool rows (``mode: 'pool'``,
:mod:`movinet_mm.analysis.latency_pool`): that many streams stepped together
by a ``StreamPool``, one pooled call per frame of every stream, for the
``inference`` and ``ort`` backends (``ort``: an export with that fixed pool
dimension), ``ort-loop`` and ``litert-loop`` (the batch-1 ONNX or LiteRT
export called once per stream);
reported: ms per pooled call (median, p90) and the aggregate
``frames_per_second``. ``--pool-workers 1 2`` adds rows whose pool runs
its streams in that many threads at once (each with threads/workers CPU
threads). ``--pool-only`` leaves out the other rows.

Every row runs in its own process (so peak RSS does not mix), with random
weights, batch 1, the thread count set through the runtime's own option and
``OMP_NUM_THREADS``. Stream rows: ``--warmup`` frames, then ``--frames``
timed frames, each a call of one step with the state carried; clip rows:
one 50-frame clip (``--clip-frames``), ``--clip-runs`` timed forwards after
one warm-up. Rows are interleaved: for each (model, threads) every backend
runs before the next. Exports (ONNX, ExecuTorch, LiteRT, int8; OpenVINO
reads the ONNX) are made first with the project's tools
(tools/deployment/export.py, quantize.py) from a random checkpoint into
``--work-dir``, and the official ``.tflite`` by ``--tf-python``.

Reported: median and p90 latency, peak RSS of the process (VmHWM, which
includes the interpreter and libraries), model file size (exported file(s);
a torch ``state_dict`` for torch rows; a TF checkpoint for TF; the
``.tflite`` file for tflite), the ratio to the tflite row of the same model
and threads (>1: faster than the official TFLite model; a table without a
tflite row, e.g. the clip one: to the TF row) and the
machine's 1-minute load average when the row started (other jobs on the
machine show up there).
"""
import argparse
import json
import os
import os.path as osp
import sys
from pathlib import Path

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from movinet_mm.analysis import latency, latency_pool
from movinet_mm.analysis.benchmark_utils import print_result, write_json
from movinet_mm.analysis.latency import DEFAULT_SIZES, STREAM_BACKENDS
from movinet_mm.models.backbones.movinet_arch import MIN_FRAME_SIZE
from movinet_mm.utils.files import check_output_path

REPO = Path(__file__).resolve().parents[2]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--models', nargs='+', default=['a0', 'a1', 'a2'],
                   choices=sorted(DEFAULT_SIZES))
    p.add_argument('--size', type=int, default=None,
                   help='frame size of every stream model (default: A0/A1 '
                   '172, A2 224, ...)')
    p.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    p.add_argument('--backends', nargs='+', default=list(STREAM_BACKENDS),
                   choices=STREAM_BACKENDS + ('ort-loop', 'litert-loop'),
                   help='ort-loop, litert-loop: --streams rows only')
    p.add_argument('--state-layouts', nargs='+', default=[],
                   choices=['eager', 'channels_first', 'channels_last'],
                   help='stream rows of the exported backends once per '
                   'state layout (default: each backend\'s own)')
    p.add_argument('--compile-models', nargs='+', default=None,
                   choices=sorted(DEFAULT_SIZES),
                   help='only these models get torch.compile stream rows '
                   '(compiling takes minutes per row; default: all)')
    p.add_argument('--warmup', type=int, default=20)
    p.add_argument('--frames', type=int, default=200,
                   help='timed frames per stream row')
    p.add_argument('--rounds', type=int, default=1,
                   help='measure every row this many times, the rows in '
                   'turn each round (drift on a shared machine then hits '
                   'every row alike); a row reports the median of its '
                   'rounds and their range')
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
    p.add_argument('--streams', type=int, nargs='+', default=None,
                   help='also measure these many streams at once in one '
                   'StreamPool (pool rows for the inference and ort '
                   'backends)')
    p.add_argument('--pool-only', action='store_true',
                   help='with --streams: only the pool rows')
    p.add_argument('--pool-workers', type=int, nargs='+', default=[1],
                   help='pool rows: shards run at once in threads, each '
                   'with threads/workers CPU threads')
    p.add_argument('--json', help='also write every row to this JSON file')
    p.add_argument('--worker', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ('warmup', 'frames', 'clip_frames', 'clip_runs'):
        if getattr(args, name) < (0 if name == 'warmup' else 1):
            p.error(f'--{name.replace("_", "-")} must be positive')
    if args.streams is not None and min(args.streams) < 1:
        p.error('--streams must be positive numbers of streams')
    if min(args.pool_workers) < 1:
        p.error('--pool-workers must be positive')
    if args.pool_only and not args.streams:
        p.error('--pool-only needs --streams')
    if args.size is not None and args.size < MIN_FRAME_SIZE:
        p.error(f'--size must be at least {MIN_FRAME_SIZE} (MoViNets stride '
                'by 32)')
    if args.rounds < 1:
        p.error(f'--rounds must be positive, got {args.rounds}')
    if {'tf', 'tflite'} & set(args.backends) and \
            not os.path.isfile(args.tf_python):
        p.error(f'no TF Python at {args.tf_python}: build .venv-tf (make '
                'tf-venv) or leave out the tf and tflite backends')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print_result(latency.worker(json.loads(args.worker)))
        return 0
    if args.json:
        try:
            check_output_path(args.json, what='--json')
        except ValueError as error:
            raise SystemExit(f'error: {error}') from None
    pool_rows = latency_pool.plan(
        models=args.models, threads=args.threads, streams=args.streams or [],
        backends=args.backends, size=args.size, warmup=args.warmup,
        frames=args.frames, workers=args.pool_workers)
    rows = [] if args.pool_only else latency.plan(
        models=args.models, threads=args.threads, backends=args.backends,
        size=args.size, compile_models=args.compile_models, clip=args.clip,
        clip_model=args.clip_model, clip_size=args.clip_size,
        state_layouts=args.state_layouts,
        clip_threads=args.clip_threads, warmup=args.warmup,
        frames=args.frames, clip_frames=args.clip_frames,
        clip_runs=args.clip_runs)
    load_before = os.getloadavg()
    work_dir = Path(args.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    exports = latency.export_models(
        work_dir, latency.needed_exports(rows), reuse=args.reuse_exports,
        int8_calibration_frames=args.int8_calibration_frames,
        clip_frames=args.clip_frames, tf_python=args.tf_python)
    pool_exports = latency_pool.export_models(
        pool_rows, work_dir, reuse=args.reuse_exports)
    results = latency.merge_rounds([
        latency.run_rows(rows, exports, args.tf_python, args.row_timeout)
        for _ in range(args.rounds)])
    results += latency_pool.run_rows(pool_rows, pool_exports,
                                     args.row_timeout)
    load_after = os.getloadavg()
    print('\n' + latency.header(args.frames, args.warmup, args.clip_runs,
                                load_before, load_after) +
          '\n\n' + latency.markdown(results) + '\n' +
          latency_pool.markdown(results))
    if args.json:
        write_json(args.json, dict(
            machine=latency.machine(), load_average_start=load_before,
            load_average_end=load_after, rows=results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
