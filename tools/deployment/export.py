"""Export a trained MoViNet for deployment: ONNX, OpenVINO IR, ExecuTorch or
LiteRT.

    python tools/deployment/export.py CONFIG CHECKPOINT --backend onnx \
        --mode stream --frame-size 172 172 --out exports/a0_stream_onnx
    python tools/deployment/export.py CONFIG CHECKPOINT --backend openvino \
        --mode clip --frame-size 172 172 --out exports/a0_clip_ov

Writes OUT/model.{onnx,xml+bin,pte,tflite} and OUT/meta.json (state names, shapes
and dtypes in order, preprocessing, class names, checkpoint SHA-256),
atomically: a failed export leaves nothing. The checkpoint must fit the
config's model exactly unless --non-strict. Run the result with
``movinet_mm.deploy.load_runtime(OUT)`` or tools/deployment/stream_example.py.
Needs the deploy extra: pip install movinet_mm[deploy] (LiteRT: the
litert-export extra and litert-torch, see setup.cfg).
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--backend', required=True,
                        choices=['onnx', 'openvino', 'executorch',
                                 'litert'])
    parser.add_argument('--mode', required=True, choices=['stream', 'clip'],
                        help='stream: one frame per call with explicit state '
                        '(causal models); clip: a whole clip per call')
    parser.add_argument('--frame-size', type=int, nargs=2, required=True,
                        metavar=('H', 'W'))
    parser.add_argument('--frames', type=int,
                        help='clip length T for --mode clip (default: any '
                        'length for onnx/openvino; required for executorch '
                        'and litert)')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--force', action='store_true',
                        help='replace --out if it holds a previous export '
                        '(and nothing else)')
    parser.add_argument('--non-strict', action='store_true',
                        help='load a checkpoint that does not fit the model '
                        'exactly (missing/unexpected keys are reported)')
    parser.add_argument('--stateful', action='store_true',
                        help='openvino stream: keep the state inside the IR '
                        '(MakeStateful) instead of explicit inputs/outputs')
    parser.add_argument('--class-names', help='text file, one class name per '
                        'line (default: from the config / data set)')
    parser.add_argument('--state-layout',
                        choices=['eager', 'channels_first', 'channels_last'],
                        help='stream: the states\' shapes (default: the '
                        "backend's fastest, channels_last for litert, "
                        'channels_first for the others)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    from mmaction.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.registry import MODELS

    import movinet_mm  # noqa: F401  (registers the modules)
    from movinet_mm.deploy.export import export_model
    from movinet_mm.deploy.meta import check_model_dir
    from movinet_mm.utils.checkpoint import load_checked_checkpoint

    check_model_dir(args.out, args.force,
                    [args.config, args.checkpoint, args.class_names])
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model)
    load_checked_checkpoint(model, args.checkpoint,
                            strict=not args.non_strict)
    model.eval()
    class_names = None
    if args.class_names:
        with open(args.class_names) as f:
            class_names = [line.strip() for line in f if line.strip()]
    out = export_model(model, args.backend, args.mode, args.frame_size,
                       args.out, frames=args.frames, cfg=cfg,
                       config_path=args.config, checkpoint=args.checkpoint,
                       class_names=class_names, stateful=args.stateful,
                       force=args.force, state_layout=args.state_layout)
    print(f'exported {args.mode} model ({args.backend}) to {out}')
    return out


if __name__ == '__main__':
    try:
        main()
    except (ValueError, ImportError, FileNotFoundError) as error:
        # bad input: one line, no traceback
        sys.exit(f'error: {error}')
