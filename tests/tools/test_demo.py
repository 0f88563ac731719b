"""The demo path end to end, scaled down: what `make demo` runs, as a user runs it.

Subprocesses from the repository root, as in the README: generate a few
synthetic clips, `python -m mim train movinet_mm <demo config>`, `python -m
mim test` with the stream loop, the training-curve plot and the per-pair
report; a run killed with SIGKILL and resumed with `--resume`; and the demo
config run by MMAction2's own installed tools/train.py from another
directory (the drop-in case). The data are 8 clips of 16 frames at 40x40.
"""
import glob
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest
from runs import (
    CONFIG,
    ITERS_PER_EPOCH,
    REPO,
    TIMEOUT,
    checkpoint_iter,
    data_options,
    last_checkpoint,
    make_data,
    mim_train,
    run,
    tiny_options,
)


@pytest.fixture
def data(tmp_path):
    return make_data(str(tmp_path / 'synthetic'))


def test_generate_train_stream_test_plot_report(data, tmp_path):
    work = str(tmp_path / 'work')
    mim_train(work, data, 2)
    ckpt = last_checkpoint(work)
    assert ckpt.endswith('epoch_2.pth')
    # an uninterrupted run ends at epochs x iterations per epoch
    assert checkpoint_iter(ckpt) == 2 * ITERS_PER_EPOCH
    run_dir = sorted(glob.glob(osp.join(work, '2*', 'vis_data')))[-1]
    run_dir = osp.dirname(run_dir)
    # the stream val loop and StreamEvalHook ran after each epoch
    for epoch in (1, 2):
        with open(osp.join(run_dir, f'stream_eval_val_{epoch}.json')) as f:
            assert json.load(f)['num_videos'] == 8
        assert osp.isfile(osp.join(run_dir, f'stream_eval_val_{epoch}.png'))

    test_dir = osp.join(work, 'test')
    dump = osp.join(test_dir, 'predictions.pkl')
    out = run([sys.executable, '-m', 'mim', 'test', 'movinet_mm', CONFIG,
               '--checkpoint', ckpt, '--work-dir', test_dir, '--dump', dump,
               '--cfg-options', *data_options(data)])
    assert 'acc/top1' in out and 'stream eval: 8 videos' in out
    stream_json = glob.glob(osp.join(test_dir, '*', 'stream_eval.json'))
    assert len(stream_json) == 1
    assert osp.isfile(stream_json[0].replace('.json', '.png'))

    # stream vs whole-clip vs multi-clip on the same decoded frames
    modes_json = str(tmp_path / 'modes.json')
    run([sys.executable, 'tools/analysis/compare_eval_modes.py', CONFIG, ckpt,
         '--num-clips', '3', '--clip-len', '4', '--json', modes_json,
         '--cfg-options', *data_options(data)])
    with open(modes_json) as f:
        report = json.load(f)
    modes = report['modes']
    assert report['num_videos'] == 8
    assert report['max_abs_diff_stream_whole_logits'] < 1e-4
    assert modes['stream']['top1'] == modes['whole']['top1']
    # 16-frame videos, every other frame: 8 steps; 3 windows of 4 frames
    assert modes['stream']['frames_per_video'] == 8
    assert modes['whole']['frames_per_video'] == 8
    assert modes['multi-clip']['frames_per_video'] == 12

    out = run([sys.executable, 'tools/analysis/plot_training_curve.py',
               work])
    assert osp.getsize(osp.join(work, 'training_curve.png')) > 10000
    assert f'up to iteration {2 * ITERS_PER_EPOCH}' in out

    report_json = str(tmp_path / 'report.json')
    out = run([sys.executable, 'tools/data/synthetic_report.py', dump,
               '--data', data, '--work-dir', work, '--json', report_json])
    assert 'test top-1' in out and 'move_right/move_left' in out
    assert 'training curve:' in out and 'stream test plot:' in out
    with open(report_json) as f:
        report = json.load(f)
    assert report['num_videos'] == 8 and len(report['pairs']) == 4


def test_killed_run_resumes_to_the_same_iteration(data, tmp_path):
    work = str(tmp_path / 'work')
    epochs = 4
    cmd = [sys.executable, '-m', 'mim', 'train', 'movinet_mm', CONFIG,
           '--work-dir', work, *tiny_options(data, epochs)]
    log = open(str(tmp_path / 'killed.log'), 'w')
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT,
                            env=dict(os.environ, OMP_NUM_THREADS='1'),
                            start_new_session=True)
    try:
        deadline = time.time() + TIMEOUT
        marker = osp.join(work, 'last_checkpoint')
        while not osp.exists(marker):
            assert proc.poll() is None, open(log.name).read()[-4000:]
            assert time.time() < deadline, 'no checkpoint in time'
            time.sleep(0.1)
        # SIGKILL the whole run (mim and its train.py) mid-training
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    killed_at = checkpoint_iter(last_checkpoint(work))
    assert killed_at < epochs * ITERS_PER_EPOCH, 'the run was not cut short'

    out = mim_train(work, data, epochs, '--resume')
    # MMEngine logs where it picks up
    assert f'resumed epoch: {killed_at // ITERS_PER_EPOCH}, iter: ' \
        f'{killed_at}' in out
    ckpt = last_checkpoint(work)
    assert ckpt.endswith(f'epoch_{epochs}.pth')
    assert checkpoint_iter(ckpt) == epochs * ITERS_PER_EPOCH
    # the resumed run did not start over: its first logged iteration comes
    # after the checkpoint it resumed from
    scalars = sorted(glob.glob(osp.join(work, '2*', 'vis_data',
                                        'scalars.json')))[-1]
    with open(scalars) as f:
        iters = [json.loads(line)['iter'] for line in f if '"iter"' in line]
    assert iters[0] == killed_at + 1
    assert iters[-1] == epochs * ITERS_PER_EPOCH


def test_drop_in_mmaction_train_script(data, tmp_path):
    """The configs, copied into an MMAction2 checkout, run with its tools."""
    import mmaction
    script = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools',
                      'train.py')
    assert osp.isfile(script)
    checkout = tmp_path / 'mmaction2'
    shutil.copytree(osp.join(REPO, 'configs'),
                    str(checkout / 'configs' / 'movinet'))
    work = str(tmp_path / 'work')
    run([sys.executable, script,
         'configs/movinet/movinet_a0_stream_synthetic.py', '--work-dir',
         work, *tiny_options(osp.abspath(data), 1)], cwd=str(checkout))
    assert last_checkpoint(work).endswith('epoch_1.pth')
    assert glob.glob(osp.join(work, '2*', 'stream_eval_val_1.json'))
