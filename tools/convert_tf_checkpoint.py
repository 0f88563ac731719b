#!/usr/bin/env python
"""Convert an official TensorFlow MoViNet checkpoint for movinet_mm.

    python tools/convert_tf_checkpoint.py movinet_a0_base.tar.gz \\
        checkpoints/movinet_a0_k600.pth --arch a0 --mode base
    python tools/convert_tf_checkpoint.py movinet_a0_stream.tar.gz \\
        checkpoints/movinet_a0_stream_k600.pth --arch a0 --mode stream

SRC is a release archive (``movinet_<arch>_<base|stream>[_k400].tar.gz``
from https://storage.googleapis.com/tf_model_garden/vision/movinet/), an
extracted checkpoint directory, or a checkpoint prefix (``dir/ckpt-1``).
TensorFlow is not needed. The conversion is strict: a missing, unused or
misshapen variable stops it with a list, and nothing is written.

DST gets ``{'state_dict': {'backbone.*', 'cls_head.*'}, 'meta': {...}}``,
tensors only (``torch.load(DST, weights_only=True)`` reads it), for
``load_from`` / ``--checkpoint`` / ``mmengine.runner.load_checkpoint``.
It is written atomically; its SHA-256 is printed.

Stream checkpoints of either conv type (the released '2plus1d' ones and
'3d_2plus1d' training checkpoints, told apart by their variables) convert to
``--conv-type`` '3d_2plus1d' (default: the layout of
configs/movinet_*_stream_k600.py) or '2plus1d'. The number of classes comes
from the checkpoint (600 for Kinetics-600, 400 for the *_base_k400 ones,
whose class names go into ``meta['class_names']``); the tool prints the
config that fits (configs/movinet_<arch>[_stream]_<k600|k400>.py).
To fine-tune on N other classes: ``--num-classes N --finetune`` keeps
everything but the classifier (cls_head.fc_cls.*), which the model then
initialises afresh.
"""
import argparse
import os
import sys
import time

# runnable as a script from anywhere in a source checkout
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ARCHS = ('a0', 'a1', 'a2', 'a3', 'a4', 'a5', 't0')


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Convert an official TF MoViNet checkpoint (no '
        'TensorFlow needed) into a movinet_mm / MMEngine checkpoint.',
        epilog='See the module docstring (tools/convert_tf_checkpoint.py).')
    p.add_argument('src', help='release .tar.gz, checkpoint directory or '
                   'checkpoint prefix')
    p.add_argument('dst', help='output .pth file')
    p.add_argument('--arch', required=True, choices=ARCHS)
    p.add_argument('--mode', required=True, choices=('base', 'stream'))
    p.add_argument('--conv-type', choices=('3d', '2plus1d', '3d_2plus1d'),
                   help="output conv type: base '3d'; stream '3d_2plus1d' "
                   "(default) or '2plus1d'")
    p.add_argument('--num-classes', type=int,
                   help='expected number of classes (default: the '
                   "checkpoint's); another number needs --finetune")
    p.add_argument('--finetune', action='store_true',
                   help='with --num-classes N: drop the classifier '
                   '(cls_head.fc_cls.*), to be initialised afresh by a model '
                   'with N classes')
    return p.parse_args(argv)


def source_files(src: str):
    """The files a conversion reads: the archive, the folder's files, or
    ``PREFIX.index`` and ``PREFIX.data-*``."""
    if os.path.isfile(src):
        return [src]
    if os.path.isdir(src):
        return [os.path.join(root, name)
                for root, _, names in os.walk(src) for name in names]
    import glob
    return [src] + glob.glob(glob.escape(src) + '.*')


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    import warnings
    warnings.filterwarnings(
        'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    from movinet_mm.converters import (
        CheckpointError,
        ConversionError,
        convert_tf_checkpoint,
        save_checkpoint,
    )
    prog = os.path.basename(sys.argv[0]) if argv is None else \
        'convert_tf_checkpoint.py'
    from movinet_mm.utils import check_output_path
    try:
        check_output_path(args.dst, source_files(args.src))
    except ValueError as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
        return 1
    try:
        result = convert_tf_checkpoint(args.src, args.arch, args.mode,
                                       conv_type=args.conv_type,
                                       num_classes=args.num_classes,
                                       finetune=args.finetune)
        digest = save_checkpoint(
            dict(state_dict=result.state_dict, meta=result.meta), args.dst)
    except (FileNotFoundError, CheckpointError, ConversionError,
            ValueError) as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
        print(f'{prog}: nothing written to {args.dst}', file=sys.stderr)
        return 1
    for line in result.summary:
        print(line)
    print(f'wrote {args.dst} ({os.path.getsize(args.dst) / 2**20:.1f} MiB, '
          f'{time.time() - t0:.1f}s)')
    print(f'sha256 {digest}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
