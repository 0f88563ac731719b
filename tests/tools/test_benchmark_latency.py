"""tools/analysis/benchmark_latency.py and movinet_mm.analysis.latency work
end to end (a tiny run; no speed is asserted)."""
import json
import os.path as osp
import sys

from helpers import REPO  # noqa: E402

sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
import benchmark_latency  # noqa: E402

from movinet_mm.analysis import latency  # noqa: E402


def test_tiny_run_writes_rows_and_table(tmp_path, capsys):
    out = tmp_path / 'rows.json'
    assert benchmark_latency.main([
        '--models', 'a0', '--size', '32', '--threads', '1', '--backends',
        'inference', '--warmup', '1', '--frames', '3', '--no-clip',
        '--work-dir', str(tmp_path / 'work'), '--json', str(out)]) == 0
    rows = json.loads(out.read_text())['rows']
    assert [(r['mode'], r['backend']) for r in rows] == [
        ('stream', 'inference')]
    for row in rows:
        assert 'error' not in row, row
        assert row['n'] == 3 and 0 < row['min_ms'] <= row['median_ms'] <= \
            row['p90_ms']
        assert row['peak_rss_bytes'] > 0 and row['model_bytes'] > 1e6
    table = capsys.readouterr().out
    assert '| A0-Stream | 32² | 1 | inference |' in table


def test_workers_in_process_and_failed_rows_in_table():
    common = dict(arch='a0', size=32, threads=1, warmup=1, frames=2,
                  clip_frames=3, clip_runs=2)
    eager = dict(common, mode='stream', backend='eager')
    clip = dict(common, mode='clip', backend='inference')
    rows = [dict(spec, **latency.worker(spec))
            for spec in (eager, clip)]
    assert [r['n'] for r in rows] == [2, 2]
    assert all(r['median_ms'] > 0 for r in rows)
    failed = dict(clip, backend='ort', error='export failed: boom')
    table = latency.markdown(rows + [failed])
    assert '| A0-Stream | 32² | 1 | eager |' in table
    assert '| A0 base | 3×32² | 1 | inference |' in table
    assert 'n/a: export failed: boom' in table


def test_bad_arguments(capsys):
    import pytest
    for argv, message in ((['--frames', '0'], '--frames must be positive'),
                          (['--size', '16'], 'at least 32'),
                          (['--backends', 'tf', '--tf-python',
                            '/nonexistent/python'], 'no TF Python')):
        with pytest.raises(SystemExit):
            benchmark_latency.main(argv)
        assert message in capsys.readouterr().err
