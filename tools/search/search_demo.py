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
   (8 frames taken every 4th frame, 40x40);
2. trains the most likely architecture from scratch with the recipe of
   configs/search/movinet_searched_synthetic.py and tests it (stream loop,
   every 4th frame of each whole test video);
3. trains and tests K random architectures of the space within +-10% of the
   target the same way;
4. prints MACs and test top-1 of each, writes
   ``<work-dir>/search_report.json`` ({"target_gmacs", "found": {"arch",
   "gmacs", "top1"}, "random": [{"gmacs", "top1"}, ...],
   "search_seconds"}), ``search_details.json`` (every run, timings, extra
   targets) and an accuracy-vs-MACs plot.

``--extra-targets 0.25`` also runs the search alone at other fractions of
A0's MACs and records whether the most likely architecture lands within
+-10% of each target.

Example::

    python tools/search/search_demo.py            # what `make search-demo` runs
    python tools/search/search_demo.py --num-random 5 --search-iters 200 \\
        --extra-targets 0.25
"""
import argparse
import json
import os
import os.path as osp
import random
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

SEARCH_CONFIG = 'configs/search/tunas_synthetic.py'
TRAIN_CONFIG = 'configs/search/movinet_searched_synthetic.py'
# on the default-difficulty clips (noise 12, objects 0.1-0.18) networks of
# half A0's cost stayed at chance through 800 training steps
DEMO_DATA_OPTIONS = ('--object-scale', '0.15', '0.22', '--noise', '0')


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
    p.add_argument('--num-random', type=int, default=5)
    p.add_argument('--search-iters', type=int, default=200)
    p.add_argument('--train-epochs', type=int, default=6)
    p.add_argument('--train-batch', type=int, default=8)
    p.add_argument('--train-per-class', type=int, default=100)
    p.add_argument('--test-per-class', type=int, default=25)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads per process (more oversubscribe a '
                   'busy CPU badly)')
    p.add_argument('--reuse-search', action='store_true',
                   help='take the searches already in --work-dir (their '
                   'searched_arch.json) instead of searching again')
    p.add_argument('--jobs', type=int, default=2,
                   help='trainings run side by side (one per core)')
    args = p.parse_args(argv)
    if args.num_random < 1:
        p.error('--num-random must be >= 1')
    if args.jobs < 1:
        p.error('--jobs must be >= 1')
    if not 0 < args.target_fraction:
        p.error('--target-fraction must be > 0')
    return args


def data_options(prefix: str, data: str, splits) -> list:
    opts = []
    for split, key in splits:
        opts += [f'{prefix}{key}.dataset.ann_file={data}/'
                 f'{split}_list_videos.txt',
                 f'{prefix}{key}.dataset.data_prefix.video={data}/videos']
    return opts


def generate_cmd(args) -> list:
    """The data generator's command: the demo's options first, so that
    ``--data-options`` override them."""
    return [sys.executable, 'tools/data/generate_synthetic.py', '--out',
            args.data, '--train-per-class', str(args.train_per_class),
            '--test-per-class', str(args.test_per_class), '--quiet',
            *DEMO_DATA_OPTIONS, *args.data_options]


class Runner:
    def __init__(self, args):
        self.args = args
        self.env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))

    def __call__(self, cmd, log_path, threads=None):
        env = self.env if threads is None else dict(
            self.env, OMP_NUM_THREADS=str(threads))
        with open(log_path, 'w') as log:
            proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            with open(log_path) as f:
                tail = f.read()[-3000:]
            raise SystemExit(f'search_demo.py: {" ".join(cmd[:6])} ... '
                             f'failed (log {log_path}):\n{tail}')
        with open(log_path) as f:
            return f.read()


def a0_macs(search_cfg) -> int:
    from movinet_mm.models import ARCH_SPECS
    from movinet_mm.search.cost import total_macs
    from movinet_mm.search.space import SearchSpace
    space = SearchSpace.from_dict(search_cfg.search_space)
    return total_macs(ARCH_SPECS['a0'], space.frames[0],
                      space.resolutions[0], causal=True,
                      conv_type='3d_2plus1d', se_type='2plus3d',
                      num_classes=search_cfg.num_classes)


def search(run, args, work_dir, target_gmacs) -> dict:
    arch_file = osp.join(work_dir, 'searched_arch.json')
    seconds_file = osp.join(work_dir, 'search_seconds.json')
    if args.reuse_search and osp.isfile(arch_file):
        with open(arch_file) as f:
            result = json.load(f)
        if abs(result['target_gmacs'] / target_gmacs - 1) > 1e-6:
            raise SystemExit(f'search_demo.py: {arch_file} was searched for '
                             f"{result['target_gmacs']:g} GMACs, not "
                             f'{target_gmacs:g}')
        seconds = None
        if osp.isfile(seconds_file):
            with open(seconds_file) as f:
                seconds = json.load(f)['search_seconds']
        result['search_seconds'] = seconds
        return result
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    warm = max(1, args.search_iters // 10)  # iterations of lr warm-up
    run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', SEARCH_CONFIG,
         '--work-dir', work_dir, '--cfg-options',
         f'train_cfg.target_gmacs={target_gmacs}',
         f'train_cfg.max_iters={args.search_iters}',
         f'train_cfg.seed={args.seed}',
         f'param_scheduler.0.end={warm}',
         f'param_scheduler.1.begin={warm}',
         f'param_scheduler.1.T_max={args.search_iters - warm}',
         f'param_scheduler.1.end={args.search_iters}',
         *data_options('', args.data, [('train', 'train_dataloader')]),
         *data_options('train_cfg.', args.data,
                       [('val', 'controller_dataloader')])],
        osp.join(work_dir, 'search.log'),
        threads=args.threads * args.jobs)  # one process: every core
    seconds = time.time() - start
    write_json(seconds_file, dict(search_seconds=seconds))
    with open(arch_file) as f:
        result = json.load(f)
    result['search_seconds'] = seconds
    return result


def train_and_test(run, args, config, work_dir) -> float:
    os.makedirs(work_dir, exist_ok=True)
    data = data_options('', args.data, [('train', 'train_dataloader'),
                                        ('test', 'test_dataloader')])
    run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', config,
         '--work-dir', work_dir, '--cfg-options',
         f'train_cfg.max_epochs={args.train_epochs}',
         f'train_dataloader.batch_size={args.train_batch}',
         f'param_scheduler.1.T_max={args.train_epochs - 0.5}',
         f'param_scheduler.1.end={args.train_epochs}',
         f'randomness.seed={args.seed}', *data],
        osp.join(work_dir, 'train.log'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    out = run([sys.executable, '-m', 'mim', 'test', 'movinet_mm', config,
               '--checkpoint', ckpt, '--work-dir',
               osp.join(work_dir, 'test'), '--cfg-options', *data],
              osp.join(work_dir, 'test.log'))
    found = re.findall(r'acc/top1: ([0-9.]+)', out)
    if not found:
        raise SystemExit(f'search_demo.py: no acc/top1 in {work_dir}/test.log')
    return float(found[-1])


def random_architectures(search_cfg, target_macs, k, seed):
    """K architectures drawn uniformly from the space, kept when within
    +-10% of the target (TuNAS's random baseline)."""
    from movinet_mm.search.cost import total_macs
    from movinet_mm.search.space import SearchSpace
    space = SearchSpace.from_dict(search_cfg.search_space)
    rng = random.Random(seed + 1000)
    picked, draws = [], 0
    while len(picked) < k:
        draws += 1
        if draws > 2_000_000:
            raise SystemExit('search_demo.py: no random architectures '
                             'within 10% of the target after 2M draws')
        arch = space.sample(rng)
        cost = total_macs(arch.arch, arch.frames, arch.resolution,
                          causal=True, conv_type='3d_2plus1d',
                          se_type='2plus3d',
                          num_classes=search_cfg.num_classes)
        if abs(cost / target_macs - 1) <= 0.1:
            picked.append((arch, cost))
    return picked, draws


def seconds_text(seconds) -> str:
    """A reused search may not know how long it took."""
    return 'time unknown' if seconds is None else f'{seconds:.0f} s'


def write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def plot(path, target, found, randoms):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r['gmacs'] * 1e3 for r in randoms],
               [r['top1'] * 100 for r in randoms], label='random (same cost '
               '+-10%)', color='tab:gray')
    ax.scatter([found['gmacs'] * 1e3], [found['top1'] * 100], marker='*',
               s=200, color='tab:red', label='TuNAS (most likely)')
    ax.axvline(target * 1e3, ls='--', color='k', lw=0.8, label='target')
    ax.set_xlabel('MMACs per 8-frame clip (40x40)')
    ax.set_ylabel('test top-1 (%)')
    ax.set_title('Searched vs random architectures, synthetic')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import movinet_mm.search  # noqa: F401
    from mmengine.config import Config
    from movinet_mm.search.loop import searched_config
    from movinet_mm.search.space import Architecture
    demo_start = time.time()
    os.makedirs(args.work_dir, exist_ok=True)
    run = Runner(args)
    run(generate_cmd(args), osp.join(args.work_dir, 'generate.log'))
    search_cfg = Config.fromfile(osp.join(REPO, SEARCH_CONFIG))
    a0 = a0_macs(search_cfg)
    target = args.target_fraction * a0 / 1e9
    print(f'A0-Stream at the demo input: {a0 / 1e9:.4f} GMACs; target '
          f'{args.target_fraction:g} x A0 = {target:.4f} GMACs')

    result = search(run, args, osp.join(args.work_dir, 'search'), target)
    found_arch = Architecture.from_dict(result['architecture'])
    print(f"search: {seconds_text(result['search_seconds'])}, most likely "
          f"{result['gmacs']:.4f} GMACs: {found_arch.describe()}")
    extra = []
    for fraction in args.extra_targets:
        t = fraction * a0 / 1e9
        r = search(run, args, osp.join(args.work_dir,
                                       f'search_{fraction:g}'), t)
        extra.append(dict(fraction=fraction, target_gmacs=t,
                          gmacs=r['gmacs'], within_10pct=abs(
                              r['gmacs'] / t - 1) <= 0.1,
                          search_seconds=r['search_seconds']))
        print(f"extra target {t:.4f} GMACs: most likely {r['gmacs']:.4f}")

    picked, draws = random_architectures(search_cfg, target * 1e9,
                                         args.num_random, args.seed)
    # the found network and the random ones, trained the same way, side by
    # side (--jobs processes of --threads threads)
    jobs = [('found', osp.join(args.work_dir, 'search', 'searched_config.py'),
             osp.join(args.work_dir, 'found'))]
    for k, (arch, cost) in enumerate(picked):
        rdir = osp.join(args.work_dir, f'random_{k}')
        os.makedirs(rdir, exist_ok=True)
        record = dict(result, architecture=arch.to_dict(), macs=cost,
                      gmacs=cost / 1e9)
        cfg = searched_config(osp.join(REPO, TRAIN_CONFIG), record)
        config = osp.join(rdir, 'config.py')
        cfg.dump(config)
        jobs.append((f'random {k}', config, rdir))
    train_start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        top1s = list(pool.map(
            lambda job: train_and_test(run, args, job[1], job[2]), jobs))
    train_seconds = time.time() - train_start
    top1 = top1s[0]
    found = dict(arch=result['architecture'], gmacs=result['gmacs'],
                 top1=top1)
    print(f"found: {result['gmacs']:.4f} GMACs, test top-1 {top1:.3f}")
    randoms, details = [], []
    for k, ((arch, cost), top1_k) in enumerate(zip(picked, top1s[1:])):
        randoms.append(dict(gmacs=cost / 1e9, top1=top1_k))
        details.append(dict(gmacs=cost / 1e9, top1=top1_k,
                            arch=arch.describe()))
        print(f'random {k}: {cost / 1e9:.4f} GMACs, test top-1 '
              f'{top1_k:.3f}: {arch.describe()}')

    report = dict(target_gmacs=target, found=found, random=randoms,
                  search_seconds=result['search_seconds'])
    report_path = osp.join(args.work_dir, 'search_report.json')
    write_json(report_path, report)
    tops = [r['top1'] for r in randoms]
    demo_seconds = time.time() - demo_start
    write_json(osp.join(args.work_dir, 'search_details.json'), dict(
        a0_gmacs=a0 / 1e9, target_fraction=args.target_fraction,
        found_arch=found_arch.describe(),
        found_within_10pct=abs(result['gmacs'] / target - 1) <= 0.1,
        random=details, random_draws=draws, train_seconds=train_seconds,
        random_median_top1=statistics.median(tops),
        random_best_top1=max(tops), extra_targets=extra,
        demo_seconds=demo_seconds, args=vars(args)))
    plot_path = osp.join(args.work_dir, 'accuracy_vs_macs.png')
    plot(plot_path, target, found, randoms)

    print(f'\n==== search demo: target {target:.4f} GMACs '
          f'({args.target_fraction:g} x A0-Stream) ====')
    print(f"{'network':<12}{'GMACs':>10}{'test top-1':>12}")
    print(f"{'searched':<12}{found['gmacs']:>10.4f}{found['top1']:>12.3f}")
    for k, r in enumerate(randoms):
        print(f"{'random ' + str(k):<12}{r['gmacs']:>10.4f}"
              f"{r['top1']:>12.3f}")
    print(f'random median {statistics.median(tops):.3f}, best '
          f'{max(tops):.3f}; search '
          f'{seconds_text(result["search_seconds"])}, '
          f'whole demo {demo_seconds:.0f} s')
    for e in extra:
        print(f"extra target {e['target_gmacs']:.4f}: most likely "
              f"{e['gmacs']:.4f} GMACs (within 10%: {e['within_10pct']})")
    print(f'report: {report_path}\nplot:   {plot_path}')
    return report


if __name__ == '__main__':
    main()
