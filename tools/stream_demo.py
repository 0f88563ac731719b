"""Online recognition of a video file (or any frame source), frame by frame.

    python tools/stream_demo.py CONFIG CHECKPOINT VIDEO [--topk 5]
        [--label-map labels.txt] [--out-json preds.json] [--out-png probs.png]
    python tools/stream_demo.py MODEL_DIR VIDEO --backend onnxruntime ...

Reads VIDEO with decord one frame at a time (the video is never held in
memory), feeds every ``frame_interval``-th frame (the config's test
sampling, e.g. 5 for 25 fps -> 5 fps) to the causal model with its stream
state, and prints the running top-k. With ``--backend onnxruntime``,
``openvino`` or ``executorch`` the model is a directory exported by
``tools/deployment/export.py`` (its meta.json holds the preprocessing and
the class names). For a camera or any other source, use
``movinet_mm.apis.OnlineRecognizer`` with your own frame iterator.
"""
import argparse
import os.path as osp
import sys
import time

import torch

from movinet_mm.apis import (
    BACKENDS,
    FrameError,
    OnlineRecognizer,
    config_sampling,
    init_recognizer,
    online_recognizer,
    read_video_frames,
    recognize_frames,
    video_frame_count,
)
from movinet_mm.datasets import UnreadableVideoError
from movinet_mm.utils import CheckpointError
from movinet_mm.utils.files import (
    atomic_output_file,
    check_output_path,
    write_json_atomic,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'inputs', nargs='+', metavar='CONFIG CHECKPOINT VIDEO | MODEL_DIR VIDEO',
        help='a config, its checkpoint (or "none" for random weights, to try '
        'the tool) and a video; with a runtime --backend, an exported model '
        'directory and a video')
    parser.add_argument('--backend', default='torch', choices=BACKENDS,
                        help='torch (a config and checkpoint) or the runtime '
                        'of an exported model directory')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--label-map', help='text file, one class name per '
                        'line')
    parser.add_argument('--frame-interval', type=int,
                        help="feed every n-th frame (default: the config's)")
    parser.add_argument('--device', default='cpu', help='torch backend only')
    parser.add_argument('--num-threads', type=int,
                        help='CPU threads of a runtime backend')
    parser.add_argument('--non-strict', action='store_true',
                        help='load a checkpoint that does not fit the model '
                        '(missing and unexpected keys are reported)')
    parser.add_argument('--out-json', help='write per-frame predictions')
    parser.add_argument('--out-png', help='plot class probabilities over time')
    parser.add_argument('--print-every', type=int, default=10,
                        help='print the running top-k every n fed frames')
    args = parser.parse_args(argv)
    expected = 3 if args.backend == 'torch' else 2
    if len(args.inputs) != expected:
        raise SystemExit(
            f'--backend {args.backend} takes ' + (
                'CONFIG CHECKPOINT VIDEO' if expected == 3 else
                'MODEL_DIR VIDEO') + f', got {len(args.inputs)} arguments: '
            f'{" ".join(args.inputs)}')
    for name in ('topk', 'print_every', 'frame_interval', 'num_threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SystemExit(f'--{name.replace("_", "-")} must be >= 1, got '
                             f'{value}')
    return args


def load_labels(path, num_classes):
    if path is None:
        return [str(i) for i in range(num_classes)]
    with open(path) as f:
        labels = [line.strip() for line in f if line.strip()]
    if len(labels) != num_classes:
        raise ValueError(f'{path} has {len(labels)} labels, the model '
                         f'{num_classes} classes')
    return labels


def model_class_names(model, cfg, num_classes):
    """The names an export would write to meta.json (the config's class
    names or its data set's), else the checkpoint's ``dataset_meta``."""
    from movinet_mm.deploy.meta import class_names_from_config
    names = class_names_from_config(cfg, num_classes)
    if names is None:
        names = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    if not names or len(names) != num_classes:
        return None
    return [str(n) for n in names]


def plot(records, labels, topk, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    probs = torch.stack([torch.tensor(r['probs']) for r in records])
    top = probs[-1].topk(min(topk, probs.shape[1])).indices.tolist()
    frames = [r['frame'] for r in records]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=120)
    for c in top:
        ax.plot(frames, probs[:, c].numpy(), label=labels[c])
    ax.set_xlabel('frame of the video')
    ax.set_ylabel('probability')
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc='upper left')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_output_file(path) as tmp:
        fig.savefig(tmp, format=osp.splitext(path)[1][1:] or 'png')
    plt.close(fig)


def build(args):
    """``(online recognizer, labels, frame interval, offset)`` for the args."""
    if args.backend == 'torch':
        config, checkpoint, _ = args.inputs
        checkpoint = None if checkpoint.lower() == 'none' else checkpoint
        model, cfg = init_recognizer(config, checkpoint, args.device,
                                     strict=not args.non_strict)
        online = online_recognizer(model, cfg, args.device)
        num_classes = getattr(model, 'num_classes', None) or \
            model.cls_head.num_classes
        names = model_class_names(model, cfg, num_classes)
        labels = load_labels(args.label_map, num_classes) \
            if args.label_map or not names else names
        interval, offset = config_sampling(cfg)
        return online, labels, interval, offset
    from movinet_mm.deploy.runtime import load_runtime
    runtime = load_runtime(args.inputs[0], args.backend, args.num_threads)
    online = OnlineRecognizer.from_runtime(runtime)
    names = runtime.meta.get('class_names')
    labels = load_labels(args.label_map, runtime.num_classes) \
        if args.label_map or not names else list(names)
    pre = runtime.meta['preprocessing']
    return online, labels, int(pre.get('frame_interval', 1)), \
        int(pre.get('frame_offset', 0))


def run(args):
    video = args.inputs[-1]
    total = video_frame_count(video)  # checks the file before the model
    online, labels, interval, offset = build(args)
    interval = args.frame_interval or interval
    records = []
    start = time.perf_counter()
    fed = 0
    for index, probs in recognize_frames(online, read_video_frames(video),
                                         interval, offset):
        fed += 1
        values, classes = probs.topk(min(args.topk, probs.numel()))
        records.append({'frame': index, 'probs': probs.tolist(),
                        'topk': [[labels[c], round(float(v), 5)]
                                 for v, c in zip(values, classes)]})
        if fed % args.print_every == 0 or index + interval >= total:
            bar = '#' * int(30 * (index + 1) / total)
            top = ', '.join(f'{n} {100 * p:.1f}%' for n, p in records[-1]['topk'])
            print(f'[{bar:<30}] frame {index + 1}/{total}: {top}', flush=True)
    seconds = time.perf_counter() - start
    if not records:
        raise SystemExit(f'{video} has {total} frames, none sampled (frame '
                         f'interval {interval}, offset {offset})')
    print(f'{fed} frames fed in {seconds:.2f} s '
          f'({1000 * seconds / fed:.1f} ms/frame, {args.backend})')
    print('final top-{}: {}'.format(
        args.topk, ', '.join(f'{n} ({100 * p:.1f}%)'
                             for n, p in records[-1]['topk'])))
    if args.out_json:
        write_json_atomic(args.out_json, {
            'video': video, 'frame_interval': interval,
            'backend': args.backend, 'labels': labels,
            'predictions': records}, indent=None)
        print(f'per-frame predictions: {args.out_json}')
    if args.out_png:
        plot(records, labels, args.topk, args.out_png)
        print(f'probabilities over time: {args.out_png}')


def check_outputs(args) -> None:
    """The output files can be written: checked before any work."""
    inputs = [*args.inputs, args.label_map]
    for option, path in (('--out-json', args.out_json),
                         ('--out-png', args.out_png)):
        if path:
            check_output_path(path, inputs, what=option)
    if args.out_json and args.out_png and \
            osp.realpath(args.out_json) == osp.realpath(args.out_png):
        raise ValueError(f'--out-json and --out-png are the same file '
                         f'({args.out_json}); give two paths')


def fail(message: str) -> SystemExit:
    """Bad input: ``message`` (one line) on stderr and exit status 2; the
    exception's str() is the message, for callers of main()."""
    print(message, file=sys.stderr)
    error = SystemExit(message)
    error.code = 2
    return error


def main(argv=None):
    args = parse_args(argv)
    from movinet_mm.deploy.export import MissingPackageError
    from movinet_mm.deploy.meta import DeployError
    try:
        check_outputs(args)
    except ValueError as error:
        raise fail(str(error)) from None
    try:
        run(args)
    except (UnreadableVideoError, CheckpointError, FrameError, DeployError,
            MissingPackageError, FileNotFoundError) as error:
        raise fail(str(error)) from None
    except ValueError as error:  # a config the online API cannot run
        raise fail(f'{args.inputs[0]}: {error}') from None


if __name__ == '__main__':
    main()
