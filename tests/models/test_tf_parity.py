"""Parity with the official TensorFlow MoViNets, offline.

tools/tf_reference/make_official_checkpoint.py runs in the TensorFlow
reference env (``make tf-venv`` builds ``.venv-tf``; ``make test`` does it
first): it builds the official models (tf-models-official 2.20) with random
weights, saves checkpoints in the release layout and the official logits.
Each checkpoint is then converted with tools/convert_tf_checkpoint.py (no
TensorFlow), loaded with ``weights_only=True`` and run in PyTorch: the
logits must match to 1e-4 (absolute; the logits are O(10)), for the whole
clip and, for stream models, frame by frame with explicit state.

Without ``.venv-tf`` these tests fail; ``MOVINET_SKIP_TF=1`` skips them.
``MOVINET_TF_PYTHON`` may name another Python with the same packages.
"""
import contextlib
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from filelock import FileLock
from helpers import REPO as REPO_ROOT
from helpers import build_recognizer

REPO = Path(REPO_ROOT)
SCRIPT = REPO / 'tools' / 'tf_reference' / 'make_official_checkpoint.py'
CONVERTER = REPO / 'tools' / 'convert_tf_checkpoint.py'
TOL = 1e-4
TF_TIMEOUT_S = 1800

# name -> (make_official_checkpoint case, output conv type)
DEFAULT_CASES = {
    'a0_base': ('a0:base', '3d'),
    'a0_stream': ('a0:stream', '3d_2plus1d'),
    # a training-layout (3d_2plus1d) checkpoint, converted to 2plus1d
    'a0_stream_train': ('a0:stream:3d_2plus1d:600:2x8x64x64:clip', '2plus1d'),
    'a3_base': ('a3:base', '3d'),
    # positional encoding; block3_layer0's skip is a projection only
    'a3_stream': ('a3:stream:2plus1d:600:2x8x65x65', '2plus1d'),
}
SLOW_CASES = {
    f'{arch}_{mode}': (f'{arch}:{mode}', '3d' if mode == 'base' else '2plus1d')
    for arch in ('a0', 'a1', 'a2', 'a3', 'a4', 'a5')
    for mode in ('base', 'stream')
}


def case_dir_name(spec: str) -> str:
    """The output folder make_official_checkpoint.py uses for ``spec``."""
    parts = spec.split(':') + [''] * 6
    arch, mode, conv, ncls, shape, flag = parts[:6]
    conv = conv or ('3d' if mode == 'base' else '2plus1d')
    name = f'{arch}_{mode}_{conv}_{ncls or 600}_{shape or "2x8x64x64"}'
    return name + ('_clip' if mode == 'stream' and flag == 'clip' else '')


def tf_python() -> str:
    if os.environ.get('MOVINET_SKIP_TF') == '1':
        pytest.skip('MOVINET_SKIP_TF=1: TensorFlow parity tests skipped')
    python = os.environ.get('MOVINET_TF_PYTHON') or str(REPO / '.venv-tf' /
                                                         'bin' / 'python')
    if not os.path.isfile(python):
        pytest.fail(
            f'the TensorFlow reference env is missing ({python}): run '
            '`make tf-venv` (or set MOVINET_SKIP_TF=1 to skip these tests)',
            pytrace=False)
    return python


@pytest.fixture(scope='session')
def reference_root(tmp_path_factory) -> Path:
    """A folder shared by the xdist workers of this run."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        base = base.parent
    root = base / 'tf_reference'
    root.mkdir(exist_ok=True)
    return root


def make_reference(root: Path, specs, dtype_probe: bool = False):
    """Run the TF script once for the cases of ``specs`` not made yet."""
    python = tf_python()
    with FileLock(str(root / '.lock')):
        todo = [s for s in specs
                if not (root / case_dir_name(s) / 'case.json').exists()]
        probe = dtype_probe and not (root / 'dtype_probe' /
                                     'tf_vars.json').exists()
        if todo or probe:
            cmd = [python, str(SCRIPT), '--out', str(root), '--tar'] + todo
            if probe:
                cmd.append('--dtype-probe')
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=TF_TIMEOUT_S, cwd=str(REPO))
            if proc.returncode:
                pytest.fail(f'{" ".join(cmd)} failed ({proc.returncode}):\n'
                            f'{proc.stderr[-4000:]}', pytrace=False)
    return {s: root / case_dir_name(s) for s in specs}


@pytest.fixture(scope='session')
def default_reference(reference_root):
    """Makes the default cases when first called (from a test, so that a
    missing TF env fails the test rather than erroring in setup)."""
    made = {}

    def get():
        if not made:
            made.update(make_reference(
                reference_root, [spec for spec, _ in DEFAULT_CASES.values()],
                dtype_probe=True))
        return made

    return get


def convert(argv, subprocess_run=False):
    """tools/convert_tf_checkpoint.py; returns (exit code, stdout)."""
    if subprocess_run:
        proc = subprocess.run([sys.executable, str(CONVERTER)] + argv,
                              capture_output=True, text=True, cwd=str(REPO))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    sys.path.insert(0, str(CONVERTER.parent))
    try:
        import convert_tf_checkpoint
    finally:
        sys.path.pop(0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = convert_tf_checkpoint.main(argv)
    assert code == 0, out.getvalue()
    return out.getvalue()


def check_parity(name, spec, conv_type, case_dir, tmp_path,
                 subprocess_run=False):
    from mmengine.runner import load_checkpoint

    info = json.loads((case_dir / 'case.json').read_text())
    arch, mode = info['arch'], info['mode']
    src = case_dir / f'{case_dir.name}.tar.gz' if subprocess_run else \
        case_dir / 'ckpt'
    dst = tmp_path / f'{name}.pth'
    args = [str(src), str(dst), '--arch', arch, '--mode', mode]
    if mode == 'stream':
        args += ['--conv-type', conv_type]
    stdout = convert(args, subprocess_run)
    digest = hashlib.sha256(dst.read_bytes()).hexdigest()
    assert f'sha256 {digest}' in stdout

    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert all(k.startswith(('backbone.', 'cls_head.'))
               for k in ckpt['state_dict'])
    assert ckpt['meta']['conv_type'] == conv_type
    assert ckpt['meta']['num_classes'] == info['num_classes']

    model = build_recognizer(arch, mode == 'stream', conv_type,
                             num_classes=info['num_classes']).eval()
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)

    ref = np.load(case_dir / 'io.npz')
    x = torch.from_numpy(ref['x']).permute(0, 4, 1, 2, 3).contiguous()
    diffs = {}
    with torch.no_grad():
        clip = model.cls_head(model.backbone(x)).numpy()
        diffs['clip'] = float(np.abs(clip - ref['logits']).max())
        if mode == 'stream':
            state, per_frame = None, []
            for t in range(x.shape[2]):
                logits, state = model.stream_step(x[:, :, t:t + 1], state)
                per_frame.append(logits.numpy())
            if 'logits_stream_all' in ref:
                diffs['frames'] = float(
                    np.abs(np.stack(per_frame) -
                           ref['logits_stream_all']).max())
            else:  # TF ran the whole clip only: causal => same logits
                diffs['frames_vs_tf_clip'] = float(
                    np.abs(per_frame[-1] - ref['logits']).max())
    record = dict(case=name, tf_case=case_dir.name, conv_type=conv_type,
                  logits_abs_max=float(np.abs(ref['logits']).max()),
                  **{f'max_abs_diff_{k}': v for k, v in diffs.items()})
    (case_dir / f'parity_{conv_type}.json').write_text(json.dumps(record))
    print(record)
    for what, diff in diffs.items():
        assert diff <= TOL, f'{name} {what}: max |logits diff| {diff:.3g}'
    return model, dst


@pytest.mark.parametrize('name', list(DEFAULT_CASES))
def test_parity(name, default_reference, tmp_path):
    spec, conv_type = DEFAULT_CASES[name]
    check_parity(name, spec, conv_type, default_reference()[spec], tmp_path,
                 subprocess_run=name == 'a3_stream')


@pytest.mark.slow
@pytest.mark.parametrize('name', list(SLOW_CASES))
def test_parity_all_archs(name, reference_root, tmp_path):
    spec, conv_type = SLOW_CASES[name]
    case_dir = make_reference(reference_root, [spec])[spec]
    check_parity(name, spec, conv_type, case_dir, tmp_path)


def _reader_matches_tf(ckpt_dir: Path, tf_vars_json: Path):
    from movinet_mm.converters import load_tf_checkpoint
    ours, _ = load_tf_checkpoint(str(ckpt_dir))
    theirs = json.loads(tf_vars_json.read_text())
    assert set(ours) == set(theirs)
    for key, want in theirs.items():
        got = ours[key]
        assert list(got.shape) == want['shape'], key
        if want['dtype'] == 'bfloat16':  # widened to float32 by our reader
            assert got.dtype == np.float32, key
            continue
        assert got.dtype == np.dtype(want['dtype']), key
        assert hashlib.sha256(np.ascontiguousarray(got).tobytes()
                              ).hexdigest() == want['sha256'], key
    return ours


@pytest.mark.parametrize('name', ['a0_stream', 'a3_stream'])
def test_reader_matches_tf(name, default_reference):
    """The TF-free reader returns what tf.train.load_checkpoint returns."""
    case_dir = default_reference()[DEFAULT_CASES[name][0]]
    ours = _reader_matches_tf(case_dir / 'ckpt', case_dir / 'tf_vars.json')
    assert 'save_counter/.ATTRIBUTES/VARIABLE_VALUE' in ours


def test_reader_dtypes(default_reference, reference_root):
    """float32/16/64, bfloat16, int32/64, uint8, bool, scalars."""
    default_reference()
    probe = reference_root / 'dtype_probe'
    ours = _reader_matches_tf(probe / 'ckpt', probe / 'tf_vars.json')
    values = np.load(probe / 'values.npz')
    assert set(values.files) == set(ours)
    for key in values.files:
        assert ours[key].dtype == values[key].dtype, key
        np.testing.assert_array_equal(ours[key], values[key], err_msg=key)
    dtypes = {k.split('/')[0]: v.dtype.name for k, v in ours.items()}
    assert {dtypes[d] for d in ('float16', 'int32', 'int64', 'float64',
                                'uint8', 'bool')} == {
                                    'float16', 'int32', 'int64', 'float64',
                                    'uint8', 'bool'}
    assert dtypes['bfloat16'] == 'float32'


def test_finetune_loads_backbone(default_reference, tmp_path):
    """--num-classes N --finetune: the backbone loads, the classifier is new,
    and MMEngine's load_checkpoint reports it as missing."""
    from mmengine.logging import MMLogger
    from mmengine.runner import load_checkpoint

    case_dir = default_reference()[DEFAULT_CASES['a0_base'][0]]
    dst = tmp_path / 'a0_51.pth'
    stdout = convert([str(case_dir / 'ckpt'), str(dst), '--arch', 'a0',
                      '--mode', 'base', '--num-classes', '51', '--finetune'])
    assert 'dropped the 600-class classifier' in stdout
    ckpt = torch.load(dst, weights_only=True)
    assert not any(k.startswith('cls_head.fc_cls') for k in ckpt['state_dict'])
    assert ckpt['meta']['num_classes'] == 51

    model = build_recognizer('a0', False, '3d', num_classes=51).eval()
    init = model.cls_head.fc_cls.weight.detach().clone()
    logger = MMLogger.get_instance('test_finetune', log_level='WARNING')
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        load_checkpoint(model, str(dst), map_location='cpu', strict=False,
                        logger=logger)
    finally:
        logger.removeHandler(handler)
    log = '\n'.join(messages)
    assert 'The model and loaded state dict do not match exactly' in log
    assert ('missing keys in source state_dict: cls_head.fc_cls.weight, '
            'cls_head.fc_cls.bias') in log
    assert torch.equal(model.cls_head.fc_cls.weight, init)
    for k, v in ckpt['state_dict'].items():
        assert torch.equal(model.state_dict()[k], v), k
