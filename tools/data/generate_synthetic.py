"""Generate a small synthetic video data set that only frame order can solve.

Every class comes with its time-reversed twin (``move_left`` /
``move_right``, ``approach`` / ``recede``, ...): a model that does not use
frame order cannot beat 50% within a pair. The data set (classes, layout
under ``--out``, determinism by ``--seed``, atomic annotation files) is
described and made by :mod:`movinet_mm.datasets.synthetic`; running again
with the same arguments skips complete data (``--force`` regenerates).

Example::

    python tools/data/generate_synthetic.py --out data/synthetic
    python tools/data/generate_synthetic.py --out /tmp/tiny --train-per-class 2 \\
        --val-per-class 1 --test-per-class 1 --frames 16 --size 32
    # a harder variant (smaller objects, slower motion, more noise)
    python tools/data/generate_synthetic.py --out data/synthetic_hard \\
        --object-scale 0.06 0.1 --motion 0.5 --noise 30
    # multi-label: 1-3 objects per clip, each its own motion class
    # (VideoDataset(multi_class=True, num_classes=8); out:
    # data/synthetic_multilabel unless --out is given)
    python tools/data/generate_synthetic.py --multi-label
"""
import argparse
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from movinet_mm.datasets.synthetic import ArgumentError, SyntheticOptions, generate

MULTI_LABEL_OUT = 'data/synthetic_multilabel'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the synthetic frame-order video data set '
        '(MMAction2 VideoDataset layout).',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = SyntheticOptions()
    parser.add_argument('--out', default=None,
                        help=f'output directory (default: {defaults.out}; '
                        f'{MULTI_LABEL_OUT} with --multi-label)')
    parser.add_argument('--classes', nargs='*', default=defaults.classes,
                        help='class names to use (at least two)')
    parser.add_argument('--train-per-class', type=int,
                        default=defaults.train_per_class)
    parser.add_argument('--val-per-class', type=int,
                        default=defaults.val_per_class)
    parser.add_argument('--test-per-class', type=int,
                        default=defaults.test_per_class)
    parser.add_argument('--frames', type=int, nargs='+',
                        default=defaults.frames, metavar='N',
                        help='frames per clip: N, or a range MIN MAX drawn '
                        'per clip')
    parser.add_argument('--size', type=int, default=defaults.size,
                        help='frame width and height (px, even, >= 32)')
    parser.add_argument('--fps', type=float, default=defaults.fps)
    parser.add_argument('--noise', type=float, default=defaults.noise,
                        help='largest per-pixel Gaussian noise std (each '
                        'clip draws its own in [0, noise])')
    parser.add_argument('--object-scale', type=float, nargs=2,
                        default=defaults.object_scale,
                        metavar=('MIN', 'MAX'),
                        help='object radius range, as a fraction of the '
                        'frame size (smaller: harder)')
    parser.add_argument('--motion', type=float, default=defaults.motion,
                        help='scale of the motion (travel, turning speed, '
                        'growth) per clip; below 1 is slower and harder')
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument('--multi-label', action='store_true',
                        help='1 to 3 objects per clip, each moving in its '
                        'own quarter of the frame with its own motion class; '
                        'the labels are the set of those classes ("<path> '
                        '<label> <label> ..." lines, for VideoDataset('
                        'multi_class=True)); --object-scale is then a '
                        'fraction of the quarter')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if the output is complete')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bar')
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = MULTI_LABEL_OUT if args.multi_label else defaults.out
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        generate(args)
    except ArgumentError as error:
        print(f'generate_synthetic.py: error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
