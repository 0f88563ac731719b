"""Accuracy per class pair of a test run on the synthetic data set.

Reads the predictions dumped by ``tools/test.py --dump predictions.pkl``
(also ``mim test ... --dump``) and the data set's ``classes.txt`` /
``meta.json``, and prints, for each time-reversed pair (e.g. move_left /
move_right):

- top-1: the predicted class is right;
- pair: the predicted class is one of the pair's two classes (what a model
  blind to frame order can still get right);
- direction: among the videos whose pair was found, the share with the
  right one of the two (50% is chance: frame order is the only cue).

With ``--work-dir`` (the training run's) it also prints where the
checkpoints, logs and plots are; ``--json`` writes the numbers::

    python tools/data/synthetic_report.py work_dirs/x/test/predictions.pkl \\
        --data data/synthetic --work-dir work_dirs/x
"""
import argparse
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from movinet_mm.analysis import synthetic_report
from movinet_mm.utils.files import check_output_path, write_json_atomic


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Per-pair accuracy of a test run on the synthetic data')
    parser.add_argument('predictions', help='pickle from test.py --dump')
    parser.add_argument('--data', default='data/synthetic',
                        help='the data set (classes.txt, meta.json)')
    parser.add_argument('--work-dir', help='training work dir: also print '
                        'where checkpoints and plots are')
    parser.add_argument('--json', help='write the numbers to this file')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.json:
        try:
            check_output_path(args.json, [
                args.predictions, osp.join(args.data, 'classes.txt'),
                osp.join(args.data, 'meta.json')], what='--json')
        except ValueError as error:
            print(f'synthetic_report.py: error: {error}', file=sys.stderr)
            return 2
    classes, pairs = synthetic_report.read_classes(args.data)
    preds = synthetic_report.load_predictions(args.predictions)
    report = synthetic_report.pair_report(preds, classes, pairs)
    text = synthetic_report.format_report(report)
    if args.work_dir:
        text += '\n' + '\n'.join(synthetic_report.locations(args.work_dir))
    print(text)
    if args.json:
        write_json_atomic(args.json, report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
