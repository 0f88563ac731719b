"""The steps of the search demo (``tools/search/search_demo.py`` is the
command line and describes the demo): TuNAS at a cost target and a
cost-only search at the same target, then the most likely architectures
of both and random ones of the same cost trained and tested the same way
with each training seed; the supernet's shared-weight scores of the searched
and the random architectures, ranked against their standalone accuracies
(Kendall's tau). Every search, training and test is a ``mim`` run in a
process of its own, from the source checkout (:data:`REPO`), as a user
would type it; the supernet is scored in this process.

``args`` below is the tool's argparse namespace (the demo's options).
"""
import contextlib
import json
import math
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

# realpath: the venv links the package into site-packages (see the Makefile)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.realpath(__file__))))
SEARCH_CONFIG = 'configs/search/tunas_synthetic.py'
# generate_synthetic.py options of the search data: on the default-difficulty
# clips (noise 12, objects 0.1-0.18) networks of half A0's cost stayed at
# chance through 800 training steps
DEMO_DATA_OPTIONS = ('--object-scale', '0.15', '0.22', '--noise', '0')
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


class Progress:
    """Progress lines: each phase's start and end, seconds since the demo
    started and the phase's own."""

    def __init__(self):
        self.start = time.time()

    def line(self, text: str) -> None:
        print(f'[{time.time() - self.start:6.0f} s] {text}', flush=True)

    @contextlib.contextmanager
    def phase(self, name: str):
        begin = time.time()
        self.line(f'{name}: start')
        yield
        self.line(f'{name}: done in {time.time() - begin:.0f} s')


def search(run, args, work_dir, target_gmacs, cost_only=False) -> dict:
    """Search at a cost target (``cost_only``: with the reward's cost term
    alone), or, with ``args.reuse_search``, read the search already in
    ``work_dir``; the searched_arch.json record."""
    arch_file = osp.join(work_dir, 'searched_arch.json')
    seconds_file = osp.join(work_dir, 'search_seconds.json')
    if args.reuse_search and osp.isfile(arch_file):
        with open(arch_file) as f:
            result = json.load(f)
        if abs(result['target_gmacs'] / target_gmacs - 1) > 1e-6:
            raise SystemExit(f'search_demo.py: {arch_file} was searched for '
                             f"{result['target_gmacs']:g} GMACs, not "
                             f'{target_gmacs:g}')
        if bool(result.get('cost_only', False)) != cost_only:
            kind = 'cost-only' if result.get('cost_only') else 'normal'
            raise SystemExit(f'search_demo.py: {arch_file} is a {kind} '
                             'search, not the '
                             f"{'cost-only' if cost_only else 'normal'} one "
                             'expected there')
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
         *([f'train_cfg.max_iters={args.search_iters}']
           if args.search_iters else []),
         f'train_cfg.seed={args.seed}',
         *(['train_cfg.cost_only=True'] if cost_only else []),
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


def train_and_test(run, args, config, work_dir, seed=None) -> float:
    """Train a config with the demo's recipe (``seed``: the training's,
    ``args.seed`` by default) and test it; test top-1."""
    seed = args.seed if seed is None else seed
    os.makedirs(work_dir, exist_ok=True)
    data = data_options('', args.data, [('train', 'train_dataloader'),
                                        ('test', 'test_dataloader')])
    run([sys.executable, '-m', 'mim', 'train', 'movinet_mm', config,
         '--work-dir', work_dir, '--cfg-options',
         f'train_cfg.max_epochs={args.train_epochs}',
         f'train_dataloader.batch_size={args.train_batch}',
         f'param_scheduler.1.T_max={args.train_epochs - 0.5}',
         f'param_scheduler.1.end={args.train_epochs}',
         f'randomness.seed={seed}', *data],
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


def plot(path, target, found, randoms, cost_only=None):
    """Test top-1 against MACs: the searched network, the cost-only
    search's, the random ones (means over the training seeds)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r['gmacs'] * 1e3 for r in randoms],
               [r['top1'] * 100 for r in randoms], label='random (same cost '
               '+-10%)', color='tab:gray')
    ax.scatter([found['gmacs'] * 1e3], [found['top1'] * 100], marker='*',
               s=200, color='tab:red', label='TuNAS (most likely)')
    if cost_only is not None:
        ax.scatter([cost_only['gmacs'] * 1e3], [cost_only['top1'] * 100],
                   marker='P', s=120, color='tab:blue',
                   label='cost-only search')
    ax.axvline(target * 1e3, ls='--', color='k', lw=0.8, label='target')
    ax.set_xlabel('MMACs per 8-frame clip (40x40)')
    ax.set_ylabel('test top-1 (%, mean over seeds)')
    ax.set_title('Searched vs random architectures, synthetic')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def search_config_of(work_dir: str) -> str:
    """The config a search in ``work_dir`` ran (MMEngine's copy there, with
    the demo's --cfg-options), else the shipped search config."""
    dumped = osp.join(work_dir, osp.basename(SEARCH_CONFIG))
    return dumped if osp.isfile(dumped) else osp.join(REPO, SEARCH_CONFIG)


def score_search(args, work_dir, architectures) -> list:
    """The shared-weight held-out top-1 of each architecture with the
    supernet of the search's last checkpoint in ``work_dir``
    (:func:`~movinet_mm.search.ranking.supernet_scores`): on every clip of
    the held-out split (the controller's), after recalibrating each path's
    BN on ``args.bn_recalibration_batches`` training batches (0: BN on the
    batch statistics, as the controller's quality)."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner as MMRunner

    from movinet_mm.search.ranking import supernet_scores
    if not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        raise SystemExit(f'search_demo.py: {work_dir} has no last_checkpoint '
                         'to score the supernet with: search again (without '
                         '--reuse-search)')
    cfg = Config.fromfile(search_config_of(work_dir))
    init_default_scope('mmaction')
    supernet = MODELS.build(cfg.model)
    ckpt = torch.load(last_checkpoint(work_dir), map_location='cpu',
                      weights_only=False)
    supernet.load_state_dict(ckpt['state_dict'])

    def loader(key, source, shuffle):
        loader_cfg = dict(source[key], num_workers=0,
                          persistent_workers=False)
        loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=shuffle,
                                     seed=args.seed)
        return MMRunner.build_dataloader(loader_cfg, seed=args.seed)

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, args.threads * args.jobs))
    try:
        held_out = list(loader('controller_dataloader', cfg.train_cfg, False))
        calibration = []
        if args.bn_recalibration_batches > 0:
            for batch in loader('train_dataloader', cfg, True):
                calibration.append(batch)
                if len(calibration) == args.bn_recalibration_batches:
                    break
        return supernet_scores(supernet, architectures, held_out,
                               calibration or None)
    finally:
        torch.set_num_threads(threads)


def mean(values) -> float:
    return sum(values) / len(values)


def assemble_report(target, result, cost_result, randoms, seeds, top1s,
                    scores, bn_recalibration_batches) -> dict:
    """``search_report.json``: the searched, cost-only and random networks'
    test top-1 (means over ``seeds``; per seed under ``seeds``), the
    supernet's scores and their Kendall tau with the standalone top-1.

    ``result`` / ``cost_result``: the two searches' searched_arch.json
    records (with ``search_seconds``); ``randoms``: ``[(architecture
    dict, gmacs)]``; ``top1s[name][seed]`` the test top-1 of ``'found'``,
    ``'cost_only'`` and ``'random <k>'``; ``scores``: the supernet's, the
    searched network's first, then the random ones'."""
    from movinet_mm.search.ranking import kendall_tau
    if len(scores) != len(randoms) + 1:
        raise ValueError(f'{len(scores)} supernet scores for '
                         f'{len(randoms) + 1} architectures')
    names = ['found'] + [f'random {k}' for k in range(len(randoms))]
    standalone = [mean([top1s[name][s] for s in seeds]) for name in names]
    tau = kendall_tau(scores, standalone)
    found = dict(arch=result['architecture'], gmacs=result['gmacs'],
                 top1=standalone[0], supernet_score=scores[0])
    cost_only = dict(arch=cost_result['architecture'],
                     gmacs=cost_result['gmacs'],
                     top1=mean([top1s['cost_only'][s] for s in seeds]),
                     search_seconds=cost_result.get('search_seconds'))
    random_entries = [dict(gmacs=gmacs, top1=top1, supernet_score=score)
                      for (_, gmacs), top1, score in
                      zip(randoms, standalone[1:], scores[1:])]
    per_seed = [dict(seed=s, found=top1s['found'][s],
                     cost_only=top1s['cost_only'][s],
                     random=[top1s[name][s] for name in names[1:]])
                for s in seeds]
    return dict(
        target_gmacs=target, found=found, random=random_entries,
        search_seconds=result.get('search_seconds'),
        kendall_tau=None if math.isnan(tau) else tau,
        ranking=dict(architectures=len(names),
                     scores='supernet top-1 on the held-out split (shared '
                     'weights, BN recalibrated on '
                     f'{bn_recalibration_batches} training batches)'
                     if bn_recalibration_batches else
                     'supernet top-1 on the held-out split (shared weights, '
                     'BN on batch statistics)',
                     standalone='test top-1, mean over seeds',
                     bn_recalibration_batches=bn_recalibration_batches),
        cost_only=cost_only,
        supernet_top1=result.get('supernet_top1', []),
        seeds=per_seed)


def run_demo(args, generate_cmd) -> dict:
    """Every step: generate the data (``generate_cmd``), search and
    search cost-only, score the supernet, train and test the found, the
    cost-only and the random architectures with each seed, write the
    report, the details and the plot. Returns what :func:`format_summary`
    prints."""
    from mmengine.config import Config

    import movinet_mm.search  # noqa: F401
    from movinet_mm.search.loop import searched_config
    from movinet_mm.search.space import Architecture
    progress = Progress()
    demo_start = progress.start
    os.makedirs(args.work_dir, exist_ok=True)
    run = Runner(args)
    with progress.phase('data'):
        run(generate_cmd, osp.join(args.work_dir, 'generate.log'))
    search_cfg = Config.fromfile(osp.join(REPO, SEARCH_CONFIG))
    a0 = a0_macs(search_cfg)
    target = args.target_fraction * a0 / 1e9
    print(f'A0-Stream at the demo input: {a0 / 1e9:.4f} GMACs; target '
          f'{args.target_fraction:g} x A0 = {target:.4f} GMACs')

    search_dir = osp.join(args.work_dir, 'search')
    with progress.phase('search'):
        result = search(run, args, search_dir, target)
    found_arch = Architecture.from_dict(result['architecture'])
    print(f"search: {seconds_text(result['search_seconds'])}, most likely "
          f"{result['gmacs']:.4f} GMACs: {found_arch.describe()}")
    cost_dir = osp.join(args.work_dir, 'search_cost_only')
    with progress.phase('cost-only search'):
        cost_result = search(run, args, cost_dir, target, cost_only=True)
    cost_arch = Architecture.from_dict(cost_result['architecture'])
    print(f"cost-only search: {seconds_text(cost_result['search_seconds'])}"
          f", most likely {cost_result['gmacs']:.4f} GMACs: "
          f'{cost_arch.describe()}')
    extra = []
    for fraction in args.extra_targets:
        t = fraction * a0 / 1e9
        with progress.phase(f'search at {fraction:g} x A0'):
            r = search(run, args, osp.join(args.work_dir,
                                           f'search_{fraction:g}'), t)
        extra.append(dict(fraction=fraction, target_gmacs=t,
                          gmacs=r['gmacs'], within_10pct=abs(
                              r['gmacs'] / t - 1) <= 0.1,
                          search_seconds=r['search_seconds']))
        print(f"extra target {t:.4f} GMACs: most likely {r['gmacs']:.4f}")

    picked, draws = random_architectures(search_cfg, target * 1e9,
                                         args.num_random, args.seed)
    with progress.phase('supernet scores'):
        scores = score_search(args, search_dir,
                              [found_arch] + [a for a, _ in picked])
    # the found network, the cost-only one and the random ones, trained
    # the same way with every seed, side by side (--jobs processes of
    # --threads threads)
    networks = [('found', osp.join(search_dir, 'searched_config.py'),
                 osp.join(args.work_dir, 'found')),
                ('cost_only', osp.join(cost_dir, 'searched_config.py'),
                 osp.join(args.work_dir, 'cost_only'))]
    for k, (arch, cost) in enumerate(picked):
        rdir = osp.join(args.work_dir, f'random_{k}')
        os.makedirs(rdir, exist_ok=True)
        record = dict(result, architecture=arch.to_dict(), macs=cost,
                      gmacs=cost / 1e9, cost_only=False)
        cfg = searched_config(osp.join(REPO, TRAIN_CONFIG), record)
        config = osp.join(rdir, 'config.py')
        cfg.dump(config)
        networks.append((f'random {k}', config, rdir))
    jobs = [(name, config, osp.join(wdir, f'seed_{seed}'), seed)
            for seed in args.seeds for name, config, wdir in networks]

    def train(job):
        name, config, wdir, seed = job
        top1 = train_and_test(run, args, config, wdir, seed)
        progress.line(f'trained {name} (seed {seed}): test top-1 '
                      f'{top1:.3f}')
        return top1

    with progress.phase(f'{len(jobs)} trainings'):
        train_start = time.time()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(train, jobs))
        train_seconds = time.time() - train_start
    top1s = {}
    for (name, _, _, seed), top1 in zip(jobs, results):
        top1s.setdefault(name, {})[seed] = top1

    randoms = [(arch.to_dict(), cost / 1e9) for arch, cost in picked]
    report = assemble_report(target, result, cost_result, randoms,
                             args.seeds, top1s, scores,
                             args.bn_recalibration_batches)
    report_path = osp.join(args.work_dir, 'search_report.json')
    write_json(report_path, report)
    details = [dict(gmacs=cost / 1e9, top1=entry['top1'],
                    supernet_score=entry['supernet_score'],
                    arch=arch.describe())
               for (arch, cost), entry in zip(picked, report['random'])]
    tops = [r['top1'] for r in report['random']]
    demo_seconds = time.time() - demo_start
    write_json(osp.join(args.work_dir, 'search_details.json'), dict(
        a0_gmacs=a0 / 1e9, target_fraction=args.target_fraction,
        found_arch=found_arch.describe(),
        found_within_10pct=abs(result['gmacs'] / target - 1) <= 0.1,
        cost_only_arch=cost_arch.describe(),
        cost_only_within_10pct=abs(cost_result['gmacs'] / target - 1) <= 0.1,
        random=details, random_draws=draws, train_seconds=train_seconds,
        random_median_top1=statistics.median(tops),
        random_best_top1=max(tops), extra_targets=extra,
        demo_seconds=demo_seconds, args=vars(args)))
    plot_path = osp.join(args.work_dir, 'accuracy_vs_macs.png')
    plot(plot_path, target, report['found'], report['random'],
         report['cost_only'])
    return dict(report=report, target_fraction=args.target_fraction,
                extra=extra, demo_seconds=demo_seconds,
                report_path=report_path, plot_path=plot_path)


def format_summary(outcome: dict) -> str:
    """The closing table of :func:`run_demo`."""
    report = outcome['report']
    target, found = report['target_gmacs'], report['found']
    cost_only, randoms = report['cost_only'], report['random']
    tops = [r['top1'] for r in randoms]
    seeds = [s['seed'] for s in report['seeds']]

    def row(name, entry):
        score = entry.get('supernet_score')
        score = f'{score:>10.3f}' if score is not None else f"{'-':>10}"
        return f"{name:<12}{entry['gmacs']:>10.4f}{entry['top1']:>12.3f}" \
            f'{score}'

    lines = [f'\n==== search demo: target {target:.4f} GMACs '
             f'({outcome["target_fraction"]:g} x A0-Stream) ====',
             f"{'network':<12}{'GMACs':>10}{'test top-1':>12}"
             f"{'supernet':>10}   (top-1: mean over seeds {seeds})",
             row('searched', found), row('cost-only', cost_only)]
    for k, r in enumerate(randoms):
        lines.append(row(f'random {k}', r))
    tau = report['kendall_tau']
    lines.append(f'random median {statistics.median(tops):.3f}, best '
                 f'{max(tops):.3f}; search '
                 f'{seconds_text(report["search_seconds"])}, '
                 f'whole demo {outcome["demo_seconds"]:.0f} s')
    lines.append('Kendall tau (supernet score vs test top-1, '
                 f"{report['ranking']['architectures']} networks): "
                 + ('undefined (one side constant)' if tau is None
                    else f'{tau:.3f}'))
    if report['supernet_top1']:
        lines.append('supernet top-1 over the search: ' + ', '.join(
            f"{m['fraction']:.0%} {m['top1']:.3f}"
            for m in report['supernet_top1']))
    for e in outcome['extra']:
        lines.append(f"extra target {e['target_gmacs']:.4f}: most likely "
                     f"{e['gmacs']:.4f} GMACs (within 10%: "
                     f"{e['within_10pct']})")
    lines.append(f'report: {outcome["report_path"]}\n'
                 f'plot:   {outcome["plot_path"]}')
    return '\n'.join(lines)
