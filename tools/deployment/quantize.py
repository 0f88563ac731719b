"""int8 quantization of an exported stream model, calibrated on real streams.

    # calibrate on 100 training videos of the config's data set
    python tools/deployment/quantize.py exports/a0_stream_onnx \\
        --out exports/a0_stream_int8 \\
        --config configs/movinet_a0_stream_synthetic.py --split train \\
        --max-videos 100
    # or on an annotation file, or on video files
    python tools/deployment/quantize.py MODEL_DIR --out OUT \\
        --ann-file data/list.txt --data-prefix data/videos
    python tools/deployment/quantize.py MODEL_DIR --out OUT --videos a.mp4 b.mp4

MODEL_DIR is a ``tools/deployment/export.py --backend onnx --mode stream``
directory (OUT gets ``model.onnx``: onnxruntime QDQ, per-channel int8
weights) or a ``--backend executorch --mode stream`` one exported with a
checkpoint (OUT gets ``model.pte``: XNNPACK int8 by PT2E, see
movinet_mm/deploy/quantize_xnnpack.py); OUT's ``meta.json`` has a
``quantization`` record; run it with ``load_runtime(OUT)``. Each
calibration video is decoded and preprocessed as MODEL_DIR's meta.json says
and streamed frame by frame through the float model; every (frame, state)
pair is a calibration sample. Unreadable videos are named and skipped. See
movinet_mm/deploy/quantize.py and quantize_xnnpack.py for what stays in float
and why.
"""
import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model_dir', help='float ONNX stream export (onnxruntime '
                   'QDQ int8) or ExecuTorch stream export (XNNPACK int8)')
    p.add_argument('--out', required=True, help='output model directory')
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--config', help='calibrate on this config\'s data set '
                     '(see --split)')
    src.add_argument('--ann-file', help='MMAction2 video list ("path label" '
                     'per line), paths relative to --data-prefix')
    src.add_argument('--videos', nargs='+', help='video files')
    src.add_argument('--random-calibration', type=int, metavar='FRAMES',
                     help='calibrate on random frames: for latency '
                     'benchmarks of untrained models only')
    p.add_argument('--split', default='train',
                   choices=['train', 'val', 'test'],
                   help='data set of --config (default: train; keep the '
                   'test set for evaluation)')
    p.add_argument('--data-prefix', default='',
                   help='folder the --ann-file paths are relative to')
    p.add_argument('--max-videos', type=int, default=100,
                   help='at most this many calibration videos, drawn with '
                   '--seed (default 100)')
    p.add_argument('--max-frames', type=int, default=None,
                   help='at most this many sampled frames per video')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--activation-type', default='uint8',
                   choices=['uint8', 'int8'])
    p.add_argument('--reduce-range', default='auto',
                   choices=['auto', 'on', 'off'],
                   help='7-bit weights (auto: on x86 CPUs without VNNI)')
    p.add_argument('--per-tensor', action='store_true',
                   help='one weight scale per tensor (default per channel)')
    p.add_argument('--calibrate-method', default='minmax',
                   choices=['minmax', 'percentile', 'entropy'])
    p.add_argument('--quantize-head', action='store_true',
                   help='also quantize the classifier head')
    p.add_argument('--force', action='store_true',
                   help='replace --out if it holds a previous int8 model '
                   '(and nothing else)')
    args = p.parse_args(argv)
    if args.max_videos < 1:
        p.error('--max-videos must be >= 1')
    if args.max_frames is not None and args.max_frames < 1:
        p.error('--max-frames must be >= 1')
    return args


def calibration_videos(args):
    from movinet_mm.deploy.quantize import videos_from_ann_file, videos_from_config
    if args.random_calibration is not None:
        return None
    if args.videos:
        paths = list(args.videos)
    elif args.ann_file:
        paths = [p for p, _ in videos_from_ann_file(args.ann_file,
                                                    args.data_prefix)]
    else:
        paths = [p for p, _ in videos_from_config(args.config, args.split)]
    if len(paths) > args.max_videos:
        paths = random.Random(args.seed).sample(paths, args.max_videos)
    return paths


def main(argv=None) -> int:
    args = parse_args(argv)
    from movinet_mm.deploy.meta import QUANTIZE_TOOL, check_model_dir, read_meta
    from movinet_mm.deploy.quantize import quantization_summary, quantize_stream_model
    check_model_dir(args.out, args.force, [args.model_dir, args.config,
                                           args.ann_file, *(args.videos or ())],
                    QUANTIZE_TOOL)
    videos = calibration_videos(args)
    start = time.perf_counter()
    out = quantize_stream_model(
        args.model_dir, args.out, videos,
        random_frames=args.random_calibration, max_frames=args.max_frames,
        activation_type=args.activation_type, reduce_range=args.reduce_range,
        per_channel=not args.per_tensor,
        calibrate_method=args.calibrate_method,
        quantize_head=args.quantize_head, force=args.force,
        log=lambda msg: print(msg, file=sys.stderr))
    meta = read_meta(out)
    print(f'wrote {out}: {quantization_summary(meta)}, '
          f'kept in float: {len(meta["quantization"]["float_nodes"])} '
          'nodes or op kinds, '
          f'{time.perf_counter() - start:.0f} s')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (ValueError, ImportError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(2)
