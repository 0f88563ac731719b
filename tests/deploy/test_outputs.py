"""Nothing lost, end to end: export.py and quantize.py never replace an
input, the working directory or files they did not write (``--force``
included); their outputs get the user's umask; every tool checks its output
paths before any work and leaves nothing behind when one is wrong."""
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest
import torch
from helpers import REPO, load_tool
from tiny_export import tiny_config

from movinet_mm.deploy.meta import DeployError

EXPORT = 'tools/deployment/export.py'
QUANTIZE = 'tools/deployment/quantize.py'
EXPORT_ARGS = ['--backend', 'onnx', '--mode', 'stream', '--frame-size', '32',
               '32']

# the tools as a user runs them, in one process (the imports take seconds)
RUN_TOOLS = '''
import runpy, sys
for argv in map(lambda a: a.split('|'), sys.argv[1:]):
    sys.argv = argv
    try:
        runpy.run_path(argv[0], run_name='__main__')
    except SystemExit as exit:
        if exit.code:
            raise
'''


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope='module')
def outputs(tmp_path_factory):
    """Under umask 022: an export and its int8 model, each written twice
    (the second time with --force over the first)."""
    root = tmp_path_factory.mktemp('outputs')
    inputs = root / 'inputs'
    inputs.mkdir()
    config = tiny_config(inputs)
    from mmengine.config import Config
    from mmengine.registry import MODELS
    model = MODELS.build(Config.fromfile(config).model)
    checkpoint = str(inputs / 'tiny.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    export = [os.path.join(REPO, EXPORT), config, checkpoint, *EXPORT_ARGS,
              '--out', str(root / 'fp32')]
    quantize = [os.path.join(REPO, QUANTIZE), str(root / 'fp32'), '--out',
                str(root / 'int8'), '--random-calibration', '2']
    runs = [export, quantize, export + ['--force'], quantize + ['--force']]
    result = subprocess.run(
        [sys.executable, '-c', RUN_TOOLS, *map('|'.join, runs)],
        capture_output=True, text=True, cwd=str(root), timeout=600,
        preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(root=root, config=config, checkpoint=checkpoint,
                fp32=root / 'fp32', int8=root / 'int8')


def copy_inputs(outputs, folder):
    folder.mkdir()
    for name in ('config', 'checkpoint'):
        shutil.copy(outputs[name], folder)
    return [str(folder / os.path.basename(outputs[n]))
            for n in ('config', 'checkpoint')]


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob('*'))


# -------------------------------------------------------------- --force
def test_outputs_get_the_users_umask(outputs):
    for folder in (outputs['fp32'], outputs['int8']):
        assert mode(folder) == 0o755, folder
        assert mode(folder / 'meta.json') == 0o644, folder
        assert mode(folder / 'model.onnx') == 0o644, folder
    assert not [p for p in os.listdir(outputs['root']) if p.startswith('.')]
    assert json.loads((outputs['int8'] / 'meta.json').read_text())[
        'quantization']


@pytest.mark.parametrize('out', ['.', 'inputs', 'checkpoint'])
def test_export_force_never_deletes_its_inputs(outputs, tmp_path,
                                               monkeypatch, out):
    config, checkpoint = copy_inputs(outputs, tmp_path / 'inputs')
    before = listing(tmp_path)
    monkeypatch.chdir(tmp_path / 'inputs' if out == '.' else tmp_path)
    target = {'.': '.', 'inputs': str(tmp_path / 'inputs'),
              'checkpoint': checkpoint}[out]
    with pytest.raises(DeployError, match='holds an input|existing file'):
        load_tool(EXPORT).main([config, checkpoint, *EXPORT_ARGS, '--out',
                                target, '--force'])
    assert listing(tmp_path) == before


def test_export_force_never_replaces_an_int8_model(outputs, tmp_path):
    config, checkpoint = copy_inputs(outputs, tmp_path / 'inputs')
    int8 = tmp_path / 'int8'
    shutil.copytree(outputs['int8'], int8)
    with pytest.raises(DeployError, match='holds an output of '
                       'tools/deployment/quantize.py'):
        load_tool(EXPORT).main([config, checkpoint, *EXPORT_ARGS, '--out',
                                str(int8), '--force'])
    assert listing(int8) == listing(outputs['int8'])


@pytest.mark.parametrize('out', ['source', 'cwd', 'an export'])
def test_quantize_force_never_replaces_its_source(outputs, tmp_path,
                                                  monkeypatch, out):
    src = tmp_path / 'fp32'
    shutil.copytree(outputs['fp32'], src)
    other = tmp_path / 'other'
    if out == 'an export':
        shutil.copytree(outputs['fp32'], other)
    else:
        other.mkdir()
        (other / 'notes.txt').write_text('mine')
    monkeypatch.chdir(other if out == 'cwd' else tmp_path)
    before = listing(tmp_path)
    target = {'source': str(src), 'cwd': '.', 'an export': str(other)}[out]
    message = {'source': 'is also an input', 'cwd': 'working directory',
               'an export': 'holds an output of tools/deployment/export.py'}
    with pytest.raises(DeployError, match=message[out]):
        load_tool(QUANTIZE).main([str(src), '--out', target, '--force',
                                  '--random-calibration', '2'])
    assert listing(tmp_path) == before
    assert 'quantization' not in json.loads((src / 'meta.json').read_text())


# ------------------------------------------ output files, before any work
def work_started(*args, **kwargs):
    raise AssertionError('the tool started its work')


def tool_cases(outputs, folder):
    """(tool, argv, the function that starts its work) for an output that
    is ``folder`` (an existing directory)."""
    fp32, config = str(outputs['fp32']), outputs['config']
    ann = folder.parent / 'ann.txt'
    ann.write_text('v.avi 0\n')
    run = folder.parent / 'run' / 'vis_data'
    run.mkdir(parents=True)
    (run / 'scalars.json').write_text('{"iter": 1, "epoch": 1, "loss": 1}\n')
    return {
        'evaluate_exported --json': (
            'tools/deployment/evaluate_exported.py',
            [fp32, '--ann-file', ann, '--json', folder], 'evaluate'),
        'stream_demo --out-json': (
            'tools/stream_demo.py', [fp32, 'v.avi', '--backend',
                                     'onnxruntime', '--out-json', folder],
            'run'),
        'stream_demo --out-png': (
            'tools/stream_demo.py', [fp32, 'v.avi', '--backend',
                                     'onnxruntime', '--out-png', folder],
            'run'),
        'stream_example --out-json': (
            'tools/deployment/stream_example.py',
            [fp32, 'v.avi', '--out-json', folder], 'StreamModel'),
        'synthetic_report --json': (
            'tools/data/synthetic_report.py',
            ['preds.pkl', '--json', folder], 'synthetic_report.read_classes'),
        'test --dump': ('tools/test.py', [config, outputs['checkpoint'],
                                          '--dump', folder],
                        'read_checkpoint'),
        'benchmark_latency --json': (
            'tools/analysis/benchmark_latency.py',
            ['--backends', 'eager', '--json', folder], 'latency.plan'),
        'plot_training_curve --out': (
            'tools/analysis/plot_training_curve.py',
            [run.parent, '--out', folder], 'training_curve.plot'),
    }


CASES = ['evaluate_exported --json', 'stream_demo --out-json',
         'stream_demo --out-png', 'stream_example --out-json',
         'synthetic_report --json', 'test --dump',
         'benchmark_latency --json', 'plot_training_curve --out']


@pytest.mark.parametrize('case', CASES)
def test_an_output_file_that_is_a_directory_fails_before_any_work(
        outputs, tmp_path, monkeypatch, capsys, case):
    folder = tmp_path / 'out' / 'result.pkl'
    folder.mkdir(parents=True)
    path, argv, work = tool_cases(outputs, folder)[case]
    tool = load_tool(path)
    *owner, name = work.split('.')
    target = getattr(tool, owner[0]) if owner else tool
    monkeypatch.setattr(target, name, work_started)
    monkeypatch.setenv('LOCAL_RANK', '0')  # tools/test.py sets it
    before = listing(tmp_path)
    try:
        code = tool.main([str(a) for a in argv])
        message = ''
    except (SystemExit, ValueError) as error:
        code = getattr(error, 'code', 1)
        message = str(code if isinstance(error, SystemExit) else error)
    assert code, 'the tool went on'
    message += capsys.readouterr().err
    assert 'is an existing directory; expected a file path' in message or \
        'expected a file path in an existing directory' in message, message
    assert listing(tmp_path) == before


def test_merged_checkpoint_gets_the_users_umask(outputs, tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(REPO,
                                      'tools/merge_ensemble_checkpoints.py'),
         outputs['checkpoint'], outputs['checkpoint'], '--out',
         str(tmp_path / 'ens.pth')],
        capture_output=True, text=True, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr[-2000:]
    assert mode(tmp_path / 'ens.pth') == 0o644
    assert os.listdir(tmp_path) == ['ens.pth']
