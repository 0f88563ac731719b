"""Plot a run's training curves (loss, accuracy, learning rate) to a PNG.

Reads what MMEngine's LocalVisBackend writes, ``<run>/vis_data/scalars.json``
(one JSON object per line: training lines carry ``iter``, ``epoch``,
``loss``, ``top1_acc``, ``lr``...; validation lines carry ``acc/top1``...
and ``step`` = the epoch).

Accepts a work dir (every run in it, in timestamp order, so a resumed run
continues the curve of the run it resumed; later lines win for the same
iteration or epoch), a single run dir or a scalars.json file::

    python tools/analysis/plot_training_curve.py work_dirs/movinet_a0_stream_synthetic
    python tools/analysis/plot_training_curve.py work_dirs/x/20240101_120000 \
        --out curve.png

By default the PNG goes to ``training_curve.png`` in the work dir.
"""
import argparse
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from movinet_mm.analysis import training_curve
from movinet_mm.utils.files import check_output_path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot loss / accuracy / lr curves of an MMEngine run')
    parser.add_argument('path', help='work dir, run dir or scalars.json')
    parser.add_argument('--out', help='output PNG (default: '
                        '<work dir>/training_curve.png)')
    parser.add_argument('--title', default=None)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    files = training_curve.find_scalar_files(args.path)
    if not files:
        print(f'plot_training_curve.py: error: no vis_data/scalars.json '
              f'under {args.path}', file=sys.stderr)
        return 1
    train, val = training_curve.read_scalars(files)
    if not train:
        print(f'plot_training_curve.py: error: no training records in '
              f'{", ".join(files)}', file=sys.stderr)
        return 1
    out = args.out
    if out is None:
        base = args.path if osp.isdir(args.path) else osp.dirname(
            osp.dirname(osp.dirname(osp.abspath(args.path))))
        out = osp.join(base, 'training_curve.png')
    try:
        check_output_path(out, files, what='--out')
    except ValueError as error:
        print(f'plot_training_curve.py: error: {error}', file=sys.stderr)
        return 1
    title = args.title if args.title is not None else osp.basename(
        osp.normpath(args.path if osp.isdir(args.path) else out))
    training_curve.plot(train, val, out, title)
    print(f'{training_curve.summary(train, val)}\ntraining curve: {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
