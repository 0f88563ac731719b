"""tools/analysis/benchmark_latency.py and movinet_mm.analysis.latency work
end to end (a tiny run; no speed is asserted)."""
import json
import os.path as osp
import sys

import pytest
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


def test_ratios_are_against_the_tflite_row():
    common = dict(mode='stream', arch='a0', size=172, p90_ms=1.0,
                  peak_rss_bytes=1e8, model_bytes=1.5e7, load_1min=0.1)
    rows = [dict(common, threads=1, backend='tflite', median_ms=3.0),
            dict(common, threads=1, backend='tf', median_ms=9.0),
            dict(common, threads=1, backend='litert', median_ms=2.0),
            dict(common, threads=2, backend='ort', median_ms=2.0),
            dict(common, mode='clip', clip_frames=50, threads=2,
                 backend='tf', median_ms=100.0),
            dict(common, mode='clip', clip_frames=50, threads=2,
                 backend='ort', median_ms=50.0)]
    table = latency.markdown(rows)
    stream, clip = table.split('### Whole clip')
    assert '| vs TFLite |' in stream and '| vs TF |' in clip
    assert '| 1 | tflite | 3.00 | 1.00 | 1.00× |' in stream
    assert '| 1 | tf | 9.00 | 1.00 | 0.33× |' in stream
    assert '| 1 | litert | 2.00 | 1.00 | 1.50× |' in stream
    assert '| 2 | ort | 2.00 | 1.00 | - |' in stream  # no tflite row at t2
    assert '| 2 | ort | 50.00 | 1.00 | 2.00× |' in clip


def test_tflite_backend_needs_the_tf_python(capsys):
    import pytest
    with pytest.raises(SystemExit):
        benchmark_latency.main(['--backends', 'tflite', '--tf-python',
                                '/nonexistent/python'])
    assert 'no TF Python' in capsys.readouterr().err


def test_state_layout_rows_run_their_own_exports(tmp_path):
    """--state-layouts: one ORT row per layout, each on an export of that
    layout (its meta.json says so)."""
    pytest.importorskip('onnxruntime')
    out = tmp_path / 'rows.json'
    assert benchmark_latency.main([
        '--models', 'a0', '--size', '32', '--threads', '1', '--backends',
        'ort', '--state-layouts', 'eager', 'channels_first', '--warmup', '1',
        '--frames', '2', '--no-clip', '--work-dir', str(tmp_path / 'work'),
        '--json', str(out)]) == 0
    rows = json.loads(out.read_text())['rows']
    assert [(r['backend'], r['state_layout']) for r in rows] == [
        ('ort', 'eager'), ('ort', 'channels_first')]
    assert all('error' not in r and r['n'] == 2 for r in rows), rows
    work = tmp_path / 'work' / 'a0_stream_32'
    for layout, buffer_rank in (('eager', 5), ('channels_first', 4)):
        meta = json.loads((work / f'onnx@{layout}' / 'meta.json').read_text())
        assert meta['state_layout'] == layout
        assert len(meta['states'][0]['shape']) == buffer_rank


def test_official_tflite_is_converted_once_per_work_dir(tmp_path):
    """export_models converts the official model with the TF Python (a
    stand-in here) into <tag>/tflite/official.tflite and keeps it."""
    fake = tmp_path / 'fake_python'
    fake.write_text('#!/bin/sh\n[ "$2" = --convert ] && printf TFL3 > "$4"\n')
    fake.chmod(0o755)
    failing = tmp_path / 'failing_python'
    failing.write_text('#!/bin/sh\necho "no tensorflow" >&2\nexit 1\n')
    failing.chmod(0o755)
    needed = {'models': [('a0', 'stream', 32)],
              'kinds': {'stream': {'tflite'}, 'clip': set()}}

    def export(work, python):
        return latency.export_models(
            work, needed, reuse=False, int8_calibration_frames=1,
            clip_frames=2, log=lambda line: None, tf_python=str(python))

    work = tmp_path / 'work'
    out = export(work, fake)[('a0', 'stream', 'tflite')]
    model = work / 'a0_stream_32' / 'tflite' / latency.TFLITE_FILE
    assert out == str(model.parent) and model.read_bytes() == b'TFL3'
    assert not (work / 'a0_stream_32_random.pth').exists()  # not needed
    # kept, even without --reuse-exports: the failing one is never run
    assert export(work, failing)[('a0', 'stream', 'tflite')] == out
    out = export(tmp_path / 'other', failing)[('a0', 'stream', 'tflite')]
    assert out == 'error: export failed: no tensorflow'
    assert not (tmp_path / 'other' / 'a0_stream_32' / 'tflite').exists()


@pytest.mark.slow  # A0's export and PT2E quantization: minutes on 2 cores
def test_int8_rows_export_their_float_model_first(tmp_path):
    """--backends executorch-int8 alone: the float ExecuTorch export is made
    (from the random checkpoint), then quantized (PT2E, random frames)."""
    pytest.importorskip('executorch')
    out = tmp_path / 'rows.json'
    assert benchmark_latency.main([
        '--models', 'a0', '--size', '32', '--threads', '1', '--backends',
        'executorch-int8', '--warmup', '1', '--frames', '2', '--no-clip',
        '--int8-calibration-frames', '2', '--work-dir',
        str(tmp_path / 'work'), '--json', str(out)]) == 0
    (row, ) = json.loads(out.read_text())['rows']
    assert row['backend'] == 'executorch-int8' and 'error' not in row, row
    assert row['n'] == 2 and row['median_ms'] > 0
    work = tmp_path / 'work' / 'a0_stream_32'
    meta = json.loads((work / 'executorch-int8' / 'meta.json').read_text())
    assert meta['quantization']['format'] == 'XNNPACK'
    assert meta['quantization']['calibration']['frames'] == 2
    assert (work / 'executorch' / 'model.pte').exists()


def test_rounds_merge_to_the_median_round_and_its_range():
    common = dict(mode='stream', arch='a0', size=172, threads=1,
                  peak_rss_bytes=1e8, model_bytes=1.5e7, load_1min=0.1)
    rounds = [[dict(common, backend='tflite', median_ms=m, p90_ms=m + 1),
               dict(common, backend='ort', error='boom')]
              for m in (3.0, 5.0, 4.0)]
    rounds[1][1] = dict(common, backend='ort', median_ms=2.0, p90_ms=2.5)
    tflite, ort = latency.merge_rounds(rounds)
    assert tflite['median_ms'] == 4.0 and tflite['p90_ms'] == 5.0
    assert tflite['rounds'] == 3 and tflite['range_ms'] == [3.0, 5.0]
    assert ort['rounds'] == 1 and ort['median_ms'] == 2.0  # one round ran
    table = latency.markdown([tflite, ort])
    assert '| tflite | 4.00 (3.00–5.00, 3 rounds) | 5.00 | 1.00× |' in table
    assert '| ort | 2.00 (2.00–2.00, 1 round) | 2.50 | 2.00× |' in table
    failed = latency.merge_rounds([[dict(common, backend='ort', error='x')]] * 2)
    assert failed[0]['error'] == 'x'
    assert latency.merge_rounds([rounds[0]]) == rounds[0]
