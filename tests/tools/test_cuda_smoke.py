"""tools/cuda_smoke.py: its CPU run (train, sub-clip train, stream test,
stream = clip, export parity) passes end to end, a failed step fails the
run, and without CUDA it refuses in one line."""
import json
import os
import subprocess
import sys

import pytest
import torch
from helpers import REPO, load_tool

smoke = load_tool('tools/cuda_smoke.py')


def test_cpu_run_passes_every_step(tmp_path):
    work = tmp_path / 'smoke'
    proc = subprocess.run(
        [sys.executable, 'tools/cuda_smoke.py', '--device', 'cpu',
         '--work-dir', str(work)], cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((work / 'cuda_smoke.json').read_text())
    assert report['ok'] and report['device'] == 'cpu'
    steps = {s['step']: s for s in report['steps']}
    assert list(steps) == ['data', 'train', 'train_sub_clips', 'test',
                           'stream_and_device', 'export', 'export_parity']
    assert all(s['ok'] for s in steps.values())
    assert steps['stream_and_device']['stream_vs_clip'] <= smoke.TOLERANCE
    assert steps['export_parity']['export_vs_eager'] <= smoke.TOLERANCE
    assert (work / 'train' / 'epoch_2.pth').is_file()


def test_failed_steps_are_recorded(tmp_path):
    steps = smoke.Steps(str(tmp_path), dict(os.environ))
    assert not steps.command('exits', [sys.executable, '-c',
                                       'raise SystemExit(3)'])
    assert not steps.check('raises', lambda: 1 / 0)
    assert steps.check('passes', lambda: dict(ok=True, error_seen=0.0))
    exits, raises, passes = steps.results
    assert not exits['ok'] and exits['exit_status'] == 3
    assert not raises['ok'] and raises['error'].startswith(
        'ZeroDivisionError')
    assert passes['ok'] and passes['error_seen'] == 0.0


def test_without_cuda_it_refuses(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit, match='needs a CUDA GPU'):
        smoke.main(['--work-dir', str(tmp_path / 'x')])
    assert not (tmp_path / 'x').exists()


def test_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        smoke.parse_args(['--search-iters', '-1'])
    assert '--search-iters must be >= 0' in capsys.readouterr().err
