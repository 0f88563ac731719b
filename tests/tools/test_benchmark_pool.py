"""The ``--streams`` rows of tools/analysis/benchmark_latency.py
(movinet_mm.analysis.latency_pool): a tiny run, the table, bad arguments
(no speed is asserted)."""
import json
import os.path as osp
import sys

import pytest
from helpers import REPO  # noqa: E402

sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
import benchmark_latency  # noqa: E402

from movinet_mm.analysis import latency_pool  # noqa: E402


def test_plan_skips_what_cannot_run():
    rows = latency_pool.plan(models=['a0'], threads=[1, 2], streams=[1, 4],
                             backends=['inference', 'ort', 'eager'],
                             size=32, warmup=0, frames=1, workers=[1, 2])
    got = {(r['threads'], r['backend'], r['workers'], r['streams'])
           for r in rows}
    assert got == {(1, 'inference', 1, 1), (1, 'inference', 1, 4),
                   (1, 'ort', 1, 1), (1, 'ort', 1, 4),
                   (2, 'inference', 1, 1), (2, 'inference', 1, 4),
                   (2, 'inference', 2, 4), (2, 'ort', 1, 1),
                   (2, 'ort', 1, 4)}
    assert all(r['mode'] == 'pool' for r in rows)


def test_tiny_pool_run_writes_rows_and_table(tmp_path, capsys):
    out = tmp_path / 'rows.json'
    assert benchmark_latency.main([
        '--models', 'a0', '--size', '32', '--threads', '2', '--backends',
        'inference', '--streams', '1', '3', '--pool-workers', '1', '2',
        '--pool-only', '--warmup', '0', '--frames', '2', '--work-dir',
        str(tmp_path / 'work'), '--json', str(out)]) == 0
    rows = json.loads(out.read_text())['rows']
    assert [(r['mode'], r['workers'], r['streams']) for r in rows] == [
        ('pool', 1, 1), ('pool', 1, 3), ('pool', 2, 3)]
    for row in rows:
        assert 'error' not in row, row
        assert row['n'] == 2 and row['frames_per_second'] > 0
        assert row['frames_per_second'] == pytest.approx(
            row['streams'] * 1000 / row['median_ms'])
    table = capsys.readouterr().out
    assert '| A0-Stream | 32² | 2 | inference | 2 | 3 |' in table
    assert '| 1.00× |' in table


@pytest.mark.parametrize('backend, fmt, modules, workers, layout', [
    ('ort-loop', 'onnx', ('onnxruntime', ), '1', 'channels_first'),
    ('litert-loop', 'litert', ('litert_torch', 'ai_edge_litert'), '2',
     'channels_last')])
def test_loop_rows_run_the_batch1_export(tmp_path, backend, fmt, modules,
                                         workers, layout):
    """ort-loop / litert-loop: the batch-1 export, made by the stream rows'
    exporter (in the backend's default state layout), stepped once per
    stream (LiteRT in 2 workers: an interpreter each)."""
    for module in modules:
        pytest.importorskip(module)
    out = tmp_path / 'rows.json'
    assert benchmark_latency.main([
        '--models', 'a0', '--size', '32', '--threads', workers, '--backends',
        backend, '--streams', '1', '2', '--pool-workers', workers,
        '--pool-only', '--warmup', '0', '--frames', '2', '--work-dir',
        str(tmp_path / 'work'), '--json', str(out)]) == 0
    rows = json.loads(out.read_text())['rows']
    # rows with 2 workers need 2 streams
    streams = [1, 2] if workers == '1' else [2]
    assert [(r['backend'], r['workers'], r['streams']) for r in rows] == [
        (backend, int(workers), k) for k in streams]
    assert all('error' not in r and r['frames_per_second'] > 0
               for r in rows), rows
    meta = json.loads((tmp_path / 'work' / 'a0_stream_32' / fmt /
                       'meta.json').read_text())
    assert meta['state_layout'] == layout


def test_failed_pool_rows_in_table_and_bad_arguments(capsys):
    row = dict(mode='pool', arch='a0', size=32, threads=1, backend='ort',
               workers=1, streams=4, error='export failed: boom')
    assert 'n/a: export failed: boom' in latency_pool.markdown([row])
    for argv, message in ((['--streams', '0'], '--streams must be positive'),
                          (['--pool-only'], '--pool-only needs --streams'),
                          (['--streams', '2', '--pool-workers', '0'],
                           '--pool-workers must be positive')):
        with pytest.raises(SystemExit):
            benchmark_latency.main(argv)
        assert message in capsys.readouterr().err
