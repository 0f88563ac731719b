"""The steps of the search demo (``tools/search/search_demo.py`` is the
command line and describes the demo): TuNAS at a cost target, then the most
likely architecture and random ones of the same cost trained and tested the
same way. Every search, training and test is a ``mim`` run in a process of
its own, from the source checkout (:data:`REPO`), as a user would type it.

``args`` below is the tool's argparse namespace (the demo's options).
"""
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

from .benchmark_utils import write_json
from .runs import last_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEARCH_CONFIG = 'configs/search/tunas_synthetic.py'
TRAIN_CONFIG = 'configs/search/movinet_searched_synthetic.py'


def data_options(prefix: str, data: str, splits) -> list:
    """--cfg-options that point (split, dataloader key) pairs at ``data``."""
    opts = []
    for split, key in splits:
        opts += [f'{prefix}{key}.dataset.ann_file={data}/'
                 f'{split}_list_videos.txt',
                 f'{prefix}{key}.dataset.data_prefix.video={data}/videos']
    return opts


class Runner:
    """Runs a command from the checkout with the demo's threads, its output
    in a log file; a failure ends the demo with the log's tail."""

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
    """MACs of A0-Stream at the search space's input."""
    from movinet_mm.models import ARCH_SPECS
    from movinet_mm.search.cost import total_macs
    from movinet_mm.search.space import SearchSpace
    space = SearchSpace.from_dict(search_cfg.search_space)
    return total_macs(ARCH_SPECS['a0'], space.frames[0],
                      space.resolutions[0], causal=True,
                      conv_type='3d_2plus1d', se_type='2plus3d',
                      num_classes=search_cfg.num_classes)


def search(run, args, work_dir, target_gmacs) -> dict:
    """Search at a cost target (or, with ``args.reuse_search``, read the
    search already in ``work_dir``); the searched_arch.json record."""
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
    run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', SEARCH_CONFIG,
         '--work-dir', work_dir, '--cfg-options',
         f'train_cfg.target_gmacs={target_gmacs}',
         f'train_cfg.max_iters={args.search_iters}',
         f'train_cfg.seed={args.seed}',
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
    """Train a config with the demo's recipe and test it; test top-1."""
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
    ckpt = last_checkpoint(work_dir)
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


def plot(path, target, found, randoms):
    """Test top-1 against MACs: the searched network, the random ones."""
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


def run_demo(args, generate_cmd) -> dict:
    """Every step: generate the data (``generate_cmd``), search, train and
    test the found and the random architectures, write the report, the
    details and the plot. Returns what :func:`format_summary` prints."""
    from mmengine.config import Config

    import movinet_mm.search  # noqa: F401
    from movinet_mm.search.loop import searched_config
    from movinet_mm.search.space import Architecture
    demo_start = time.time()
    os.makedirs(args.work_dir, exist_ok=True)
    run = Runner(args)
    run(generate_cmd, osp.join(args.work_dir, 'generate.log'))
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
    return dict(report=report, target_fraction=args.target_fraction,
                extra=extra, demo_seconds=demo_seconds,
                report_path=report_path, plot_path=plot_path)


def format_summary(outcome: dict) -> str:
    """The closing table of :func:`run_demo`."""
    report = outcome['report']
    target, found = report['target_gmacs'], report['found']
    randoms = report['random']
    tops = [r['top1'] for r in randoms]
    lines = [f'\n==== search demo: target {target:.4f} GMACs '
             f'({outcome["target_fraction"]:g} x A0-Stream) ====',
             f"{'network':<12}{'GMACs':>10}{'test top-1':>12}",
             f"{'searched':<12}{found['gmacs']:>10.4f}{found['top1']:>12.3f}"]
    for k, r in enumerate(randoms):
        lines.append(f"{'random ' + str(k):<12}{r['gmacs']:>10.4f}"
                     f"{r['top1']:>12.3f}")
    lines.append(f'random median {statistics.median(tops):.3f}, best '
                 f'{max(tops):.3f}; search '
                 f'{seconds_text(report["search_seconds"])}, '
                 f'whole demo {outcome["demo_seconds"]:.0f} s')
    for e in outcome['extra']:
        lines.append(f"extra target {e['target_gmacs']:.4f}: most likely "
                     f"{e['gmacs']:.4f} GMACs (within 10%: "
                     f"{e['within_10pct']})")
    lines.append(f'report: {outcome["report_path"]}\n'
                 f'plot:   {outcome["plot_path"]}')
    return '\n'.join(lines)
