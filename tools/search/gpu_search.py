"""A larger TuNAS search on one CUDA GPU: the search demo's data and space at
the paper's depths (1-10 layers per block) and 172x172 input
(configs/search/tunas_synthetic_gpu.py), with the cost target at half of
MoViNet-A0-Stream's MACs at that input. Meant to finish in under 10 minutes
on one recent GPU; nothing else in movinet_mm needs a GPU.

    python tools/search/gpu_search.py
    python tools/search/gpu_search.py --max-iters 3000 --target-fraction 0.25

Writes ``--work-dir``/searched_arch.json, searched_config.py and
search_log.jsonl (as ``mim train`` of the config does; it runs
``tools/train.py``, so a GPU box needs no openmim) and prints the
most likely architecture.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import time

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from movinet_mm.analysis.search_demo import (
    DEMO_DATA_OPTIONS,
    REPO,
    a0_macs,
    data_options,
)

CONFIG = 'configs/search/tunas_synthetic_gpu.py'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default='data/synthetic_search')
    p.add_argument('--work-dir', default='work_dirs/search_gpu')
    p.add_argument('--max-iters', type=int, default=1500)
    p.add_argument('--target-fraction', type=float, default=0.5)
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    if args.max_iters < 1 or args.target_fraction <= 0:
        p.error('--max-iters must be >= 1 and --target-fraction > 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch
    if not torch.cuda.is_available():
        raise SystemExit('gpu_search.py: needs a CUDA GPU (torch.cuda.'
                         'is_available() is False); on a CPU run '
                         '`make search-demo`')
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    target = args.target_fraction * a0_macs(cfg) / 1e9
    print(f'{torch.cuda.get_device_name(0)}: target {target:.4f} GMACs '
          f'({args.target_fraction:g} x A0-Stream at 8x172x172)', flush=True)
    if not osp.isfile(osp.join(REPO, args.data, 'train_list_videos.txt')):
        subprocess.run([sys.executable, 'tools/data/generate_synthetic.py',
                        '--out', args.data, '--train-per-class', '100',
                        '--test-per-class', '25', *DEMO_DATA_OPTIONS,
                        '--quiet'], cwd=REPO,
                       check=True)
    start = time.time()
    proc = subprocess.run(
        # tools/train.py: what `mim train` runs, without needing openmim
        [sys.executable, 'tools/train.py', CONFIG,
         '--work-dir', args.work_dir, '--cfg-options',
         f'train_cfg.target_gmacs={target}',
         f'train_cfg.max_iters={args.max_iters}',
         f'train_cfg.seed={args.seed}',
         *data_options('', args.data, [('train', 'train_dataloader')]),
         *data_options('train_cfg.', args.data,
                       [('val', 'controller_dataloader')])], cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f'gpu_search.py: the search failed (exit '
                         f'{proc.returncode}); its log is in {args.work_dir}')
    with open(osp.join(REPO, args.work_dir, 'searched_arch.json')) as f:
        result = json.load(f)
    print(f'search: {time.time() - start:.0f} s; most likely '
          f"{result['gmacs']:.4f} GMACs (target {target:.4f})")
    print(f"outputs: {osp.join(args.work_dir, 'searched_arch.json')}")


if __name__ == '__main__':
    main()
