"""Fine-tuning against training from scratch, end to end on the synthetic data.

    python tools/analysis/finetune_comparison.py [--work-root work_dirs] [--threads 2]

1. generates the two data sets (if missing): the motion pairs for
   pre-training (move right/left, move down/up; 150 training clips per class)
   and the other pairs as the target task (rotate clockwise/counter-clockwise,
   approach/recede; 10 training clips per class, 25 test clips per class);
2. pre-trains MoViNet-A0-Stream on the motion pairs
   (configs/finetune/synthetic_pretrain_motion.py);
3. drops its classifier (``cls_head.fc_cls.*``, as
   ``convert_tf_checkpoint.py --finetune`` does for the official weights);
4. fine-tunes it on the target clips (synthetic_finetune_rotate_scale.py)
   and trains the same model from scratch on the same clips with the same
   schedule (synthetic_scratch_rotate_scale.py);
5. tests both on the target test set with the stream test loop and prints
   a markdown table (test top-1, training wall time), also written to
   ``<work-root>/finetune_comparison.json``.

Every step runs movinet_mm's own tools (tools/train.py, tools/test.py) in a
subprocess, the commands a user would type.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, REPO)

from movinet_mm.analysis.runs import (  # noqa: E402
    drop_classifier,
    dump_top1,
    last_checkpoint,
)

PRETRAIN = 'configs/finetune/synthetic_pretrain_motion.py'
FINETUNE = 'configs/finetune/synthetic_finetune_rotate_scale.py'
SCRATCH = 'configs/finetune/synthetic_scratch_rotate_scale.py'
DATA = {
    'pretrain': ('data/synthetic_finetune/pretrain',
                 ['move_right', 'move_left', 'move_down', 'move_up'], 150),
    'target': ('data/synthetic_finetune/target',
               ['rotate_clockwise', 'rotate_counterclockwise', 'approach',
                'recede'], 10),
}


def run(cmd, env):
    print('$', ' '.join(cmd), flush=True)
    start = time.time()
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f'failed: {" ".join(cmd)}')
    return time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-root', default='work_dirs')
    parser.add_argument('--threads', type=int, default=2,
                        help='OMP_NUM_THREADS of every step')
    parser.add_argument('--skip-pretrain', action='store_true',
                        help='reuse <work-root>/synthetic_pretrain_motion')
    args = parser.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    py = sys.executable
    for root, classes, train in DATA.values():
        if not osp.isfile(osp.join(REPO, root, 'meta.json')):
            run([py, 'tools/data/generate_synthetic.py', '--out', root,
                 '--classes', *classes, '--train-per-class', str(train),
                 '--val-per-class', '8', '--test-per-class', '25',
                 '--quiet'], env)
    rows = {}
    pre_dir = osp.join(args.work_root, 'synthetic_pretrain_motion')
    if not args.skip_pretrain:
        rows['pretrain'] = dict(train_s=run(
            [py, 'tools/train.py', PRETRAIN, '--work-dir', pre_dir], env))
    backbone = osp.join(pre_dir, 'backbone.pth')
    drop_classifier(osp.join(REPO, last_checkpoint(osp.join(REPO, pre_dir))),
                    osp.join(REPO, backbone))
    for name, config in (('finetune', FINETUNE), ('scratch', SCRATCH)):
        work = osp.join(args.work_root, f'synthetic_{name}_rotate_scale')
        options = ['--cfg-options', f'load_from={backbone}'] \
            if name == 'finetune' else []
        seconds = run([py, 'tools/train.py', config, '--work-dir', work,
                       *options], env)
        dump = osp.join(REPO, work, 'test_preds.pkl')
        run([py, 'tools/test.py', config,
             last_checkpoint(osp.join(REPO, work)), '--work-dir', work,
             '--dump', dump], env)
        acc, videos = dump_top1(dump)
        rows[name] = dict(train_s=seconds, test_top1=acc, test_videos=videos)
    out = osp.join(REPO, args.work_root, 'finetune_comparison.json')
    with open(out, 'w') as f:
        json.dump(rows, f, indent=1)
    print('\n| run | training (wall clock) | test top-1 |\n|---|---|---|')
    if 'pretrain' in rows:
        print(f'| pre-training on the motion pairs (600 clips, 8 epochs) | '
              f'{rows["pretrain"]["train_s"]:.0f} s | — |')
    for name, label in (('finetune', 'fine-tuned from the motion model'),
                        ('scratch', 'from scratch')):
        r = rows[name]
        print(f'| {label} (40 clips, 15 epochs) | {r["train_s"]:.0f} s | '
              f'{r["test_top1"]:.1f}% ({r["test_videos"]} videos) |')
    print(f'\nwritten {out}')


if __name__ == '__main__':
    main()
