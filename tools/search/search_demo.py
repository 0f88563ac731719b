"""The search demo: TuNAS against random architectures of the same cost.

On the synthetic frame-order data (100 training videos per class,
generated into data/synthetic_search so the demo's default data stay
intact; clear clips by default: objects of 0.15-0.22 of the frame, no
noise (``DEMO_DATA_OPTIONS``), on which networks at half A0's cost learn
within the demo's 600 training steps; ``--data-options`` adds to or
overrides them, e.g. ``--object-scale 0.06 0.1 --motion 0.5 --noise 30``
for a harder variant):

1. searches (``mim train configs/search/tunas_synthetic.py``) at a cost
   target, a fraction of MoViNet-A0-Stream's MACs at the demo's input
   (8 frames taken every 4th frame, 40x40), and searches again with the
   reward's cost term alone (``train_cfg.cost_only=True``);
2. scores the searched architecture and K random architectures of the
   space within +-10% of the target with the search's supernet (shared
   weights, the held-out split, each path's BN recalibrated on
   ``--bn-recalibration-batches`` training batches);
3. trains the two searches' most likely architectures and the K random
   ones from scratch with the recipe of
   configs/search/movinet_searched_synthetic.py, once per ``--seeds`` seed,
   and tests them (stream loop, every 4th frame of each whole test video);
4. prints MACs, test top-1 and supernet score of each and Kendall's tau
   between the supernet scores and the test top-1 (searched + random),
   writes ``<work-dir>/search_report.json`` ({"target_gmacs", "found":
   {"arch", "gmacs", "top1", "supernet_score"}, "random": [{"gmacs", "top1",
   "supernet_score"}, ...], "search_seconds", "kendall_tau", "ranking",
   "cost_only": {"arch", "gmacs", "top1", "search_seconds"},
   "supernet_top1": [{"iter", "fraction", "top1", "controller_lr"}, ...],
   "seeds": [{"seed", "found", "cost_only", "random"}, ...]}; top-1 at the
   top level is the mean over the seeds), ``search_details.json`` (every
   run, timings, extra targets) and an accuracy-vs-MACs plot.

Progress lines give each phase's start and end with the seconds elapsed.

``--extra-targets 0.25`` also runs the search alone at other fractions of
A0's MACs and records whether the most likely architecture lands within
+-10% of each target.

Example::

    python tools/search/search_demo.py            # what `make search-demo` runs
    python tools/search/search_demo.py --num-random 5 --search-iters 200 \\
        --seeds 0 --extra-targets 0.25
    python tools/search/search_demo.py --reuse-search --seeds 2 3
"""
import argparse
import os.path as osp
import sys

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from movinet_mm.analysis.search_demo import (
    DEMO_DATA_OPTIONS,
    format_summary,
    run_demo,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default='data/synthetic_search')
    p.add_argument('--data-options', nargs=argparse.REMAINDER, default=[],
                   help='further tools/data/generate_synthetic.py options '
                   '(last on the command line)')
    p.add_argument('--work-dir', default='work_dirs/search_demo')
    p.add_argument('--target-fraction', type=float, default=0.5,
                   help="cost target, as a fraction of A0-Stream's MACs at "
                   'the demo input')
    p.add_argument('--extra-targets', type=float, nargs='*', default=[],
                   help='further target fractions, searched only')
    p.add_argument('--num-random', type=int, default=5,
                   help='random architectures within +-10%% of the target '
                   '(at least 2: the ranking needs 3 networks)')
    p.add_argument('--search-iters', type=int, default=None,
                   help="the search's iterations (default: the search "
                   "config's max_iters)")
    p.add_argument('--train-epochs', type=int, default=3,
                   help='epochs of each comparison training (3 = 300 steps: '
                   'with 6 every network of the target cost reaches ~95%%, '
                   'too close to rank)')
    p.add_argument('--train-batch', type=int, default=8)
    p.add_argument('--train-per-class', type=int, default=100)
    p.add_argument('--test-per-class', type=int, default=25)
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the searches and of the random '
                   'architectures')
    p.add_argument('--seeds', type=int, nargs='+', default=[0],
                   help='training seeds: every network is trained and '
                   'tested once per seed (top-1: the mean)')
    p.add_argument('--bn-recalibration-batches', type=int, default=4,
                   help="training batches that re-estimate each path's BN "
                   'statistics before the supernet scores it (0: BN on the '
                   'held-out batch statistics)')
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads per process (more oversubscribe a '
                   'busy CPU badly)')
    p.add_argument('--reuse-search', action='store_true',
                   help='take the searches already in --work-dir (their '
                   'searched_arch.json) instead of searching again')
    p.add_argument('--jobs', type=int, default=2,
                   help='trainings run side by side (one per core)')
    args = p.parse_args(argv)
    if args.num_random < 2:
        p.error('--num-random must be >= 2 (Kendall tau over the searched '
                'and the random networks needs 3)')
    if len(set(args.seeds)) != len(args.seeds):
        p.error('--seeds lists a seed twice')
    if args.bn_recalibration_batches < 0:
        p.error('--bn-recalibration-batches must be >= 0')
    if args.jobs < 1:
        p.error('--jobs must be >= 1')
    if not 0 < args.target_fraction:
        p.error('--target-fraction must be > 0')
    return args


def generate_cmd(args) -> list:
    """The data generator's command: the demo's options first, so that
    ``--data-options`` override them."""
    return [sys.executable, 'tools/data/generate_synthetic.py', '--out',
            args.data, '--train-per-class', str(args.train_per_class),
            '--test-per-class', str(args.test_per_class), '--quiet',
            *DEMO_DATA_OPTIONS, *args.data_options]


def main(argv=None):
    args = parse_args(argv)
    outcome = run_demo(args, generate_cmd(args))
    print(format_summary(outcome))
    return outcome['report']


if __name__ == '__main__':
    main()
