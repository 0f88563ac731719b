"""A short end-to-end run on one CUDA GPU, for when one is available: the
paths a CPU never exercises, each checked (meant to take a few minutes;
the CPU run below takes under a minute here).

1. trains MoViNet-A0-Stream (``configs/movinet_a0_stream_synthetic.py``) for
   a few iterations on tiny synthetic data, whole clips and sub-clips
   (``model.train_cfg.sub_clips=2``), and tests it with the stream loop;
2. with the trained checkpoint on the device: the stream (frame by frame)
   equals the whole clip, and the device's logits equal the CPU's;
3. exports that checkpoint to ONNX (stream) and checks the export frame by
   frame against the eager model;
4. runs ``tools/search/gpu_search.py`` for ``--search-iters`` iterations and
   times them (the full search is 1,500).

Every step's outcome goes to ``<work-dir>/cuda_smoke.json``; the exit status
is 1 when any check failed. ``--device cpu`` runs steps 1-3 on the CPU (a
check of this script where no GPU is lent; no search).

    python tools/cuda_smoke.py
    python tools/cuda_smoke.py --search-iters 0      # no search
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

try:
    import movinet_mm  # noqa: F401
except ImportError:  # a source checkout that is not installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from movinet_mm.analysis.search_demo import REPO, data_options

CONFIG = 'configs/movinet_a0_stream_synthetic.py'
SIZE = 40
# float32 on the GPU without TF32: the tolerances below are fp32 ones
TOLERANCE = 1e-4  # of the logits' largest magnitude


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-dir', default='work_dirs/cuda_smoke')
    p.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    p.add_argument('--search-iters', type=int, default=30,
                   help='iterations of the GPU search to time (0: none)')
    args = p.parse_args(argv)
    if args.search_iters < 0:
        p.error('--search-iters must be >= 0')
    return args


class Steps:
    """Runs the steps in order, records each one's outcome and time."""

    def __init__(self, work_dir: str, env: dict):
        self.work_dir, self.env = work_dir, env
        self.results = []

    def command(self, name: str, cmd) -> bool:
        log = osp.join(self.work_dir, f'{name}.log')
        start = time.time()
        with open(log, 'w') as f:
            code = subprocess.run(cmd, cwd=REPO, env=self.env, stdout=f,
                                  stderr=subprocess.STDOUT).returncode
        self.record(name, code == 0, time.time() - start,
                    log=log, exit_status=code)
        return code == 0

    def check(self, name: str, fn) -> bool:
        start = time.time()
        try:
            details = fn()
        except Exception as e:  # a failed check is a result, not a crash
            self.record(name, False, time.time() - start,
                        error=f'{type(e).__name__}: {e}')
            return False
        self.record(name, details.pop('ok'), time.time() - start, **details)
        return self.results[-1]['ok']

    def record(self, name, ok, seconds, **details):
        self.results.append(dict(step=name, ok=bool(ok),
                                 seconds=round(seconds, 1), **details))
        print(f"[{'ok' if ok else 'FAILED'}] {name} ({seconds:.0f} s)"
              + ''.join(f'; {k} {v}' for k, v in details.items()
                        if k != 'log'), flush=True)


def load_model(checkpoint: str, device: str):
    """The demo config's model with ``checkpoint`` (checked), on ``device``
    (the online API's loader)."""
    from movinet_mm.apis import init_recognizer
    return init_recognizer(osp.join(REPO, CONFIG), checkpoint,
                           device=device)[0]


def relative_error(a, b) -> float:
    scale = max(float(b.abs().max()), 1e-12)
    return float((a.float().cpu() - b.float().cpu()).abs().max()) / scale


def check_stream_and_device(checkpoint: str, device: str) -> dict:
    """Stream = clip on ``device``, and ``device`` = CPU."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    clip = torch.rand(2, 3, 16, SIZE, SIZE,
                      generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model = load_model(checkpoint, device)
        on_device = clip.to(device)
        whole = model.cls_head(model.backbone(on_device))
        # frame by frame through the stream scheduler the stream loop uses
        streamed = model.stream_logits(on_device, [clip.shape[2]] * 2,
                                       chunk_size=1).logits
        cpu = load_model(checkpoint, 'cpu')
        whole_cpu = cpu.cls_head(cpu.backbone(clip))
    stream_error = relative_error(streamed, whole)
    device_error = relative_error(whole, whole_cpu)
    return dict(ok=stream_error <= TOLERANCE and device_error <= TOLERANCE,
                stream_vs_clip=stream_error, device_vs_cpu=device_error,
                logits_device=str(whole.device))


def check_export(checkpoint: str, export_dir: str) -> dict:
    """The ONNX stream export of the trained checkpoint, frame by frame,
    against the eager model on the CPU."""
    import numpy as np
    import torch

    from movinet_mm.deploy import load_runtime
    runtime = load_runtime(export_dir)
    model = load_model(checkpoint, 'cpu')
    clip = torch.rand(1, 3, 8, SIZE, SIZE,
                      generator=torch.Generator().manual_seed(1))
    state, states, worst = None, None, 0.0
    with torch.no_grad():
        for t in range(clip.shape[2]):
            frame = clip[:, :, t:t + 1]
            eager, state = model.stream_step(frame, state)
            exported, states = runtime.stream_step(frame.numpy(), states)
            worst = max(worst, relative_error(
                torch.from_numpy(np.asarray(exported)), eager))
    return dict(ok=worst <= TOLERANCE, export_vs_eager=worst)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('cuda_smoke.py: needs a CUDA GPU (torch.cuda.'
                         'is_available() is False); --device cpu checks '
                         'this script on the CPU')
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    env = dict(os.environ)
    if args.device == 'cpu':  # MMEngine takes a GPU whenever it sees one
        env['CUDA_VISIBLE_DEVICES'] = ''
    device_name = (torch.cuda.get_device_name(0) if args.device == 'cuda'
                   else 'cpu')
    print(f'cuda_smoke.py on {device_name}; logs in {work_dir}', flush=True)
    steps = Steps(work_dir, env)
    data = osp.join(work_dir, 'data')
    py = sys.executable
    steps.command('data', [
        py, 'tools/data/generate_synthetic.py', '--out', data,
        '--train-per-class', '4', '--val-per-class', '1',
        '--test-per-class', '2', '--quiet', '--force'])
    data_cfg = data_options('', data, [('train', 'train_dataloader'),
                                       ('val', 'val_dataloader'),
                                       ('test', 'test_dataloader')])
    short = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
             'train_dataloader.batch_size=8', 'default_hooks.logger.interval=1']
    train_dir = osp.join(work_dir, 'train')
    trained = steps.command('train', [
        py, 'tools/train.py', CONFIG, '--work-dir', train_dir,
        '--cfg-options', *short, *data_cfg])
    steps.command('train_sub_clips', [
        py, 'tools/train.py', CONFIG, '--work-dir',
        osp.join(work_dir, 'train_sub_clips'), '--cfg-options', *short,
        'model.train_cfg.sub_clips=2', *data_cfg])
    checkpoint = osp.join(train_dir, 'epoch_2.pth')
    if trained:
        steps.command('test', [
            py, 'tools/test.py', CONFIG, checkpoint, '--work-dir',
            osp.join(work_dir, 'test'), '--cfg-options', *data_cfg])
        steps.check('stream_and_device', lambda: check_stream_and_device(
            checkpoint, args.device))
        export_dir = osp.join(work_dir, 'onnx_stream')
        if steps.command('export', [
                py, 'tools/deployment/export.py', CONFIG, checkpoint,
                '--backend', 'onnx', '--mode', 'stream', '--frame-size',
                str(SIZE), str(SIZE), '--out', export_dir, '--force']):
            steps.check('export_parity',
                        lambda: check_export(checkpoint, export_dir))
    if args.device == 'cuda' and args.search_iters:
        steps.command('gpu_search', [
            py, 'tools/search/gpu_search.py', '--max-iters',
            str(args.search_iters), '--work-dir',
            osp.join(work_dir, 'search')])
        steps.results[-1]['iterations'] = args.search_iters
    ok = all(r['ok'] for r in steps.results)
    report = dict(device=device_name, torch=torch.__version__, ok=ok,
                  steps=steps.results)
    with open(osp.join(work_dir, 'cuda_smoke.json'), 'w') as f:
        json.dump(report, f, indent=2)
    print(f"{'all checks passed' if ok else 'FAILED'}: "
          f'{osp.join(work_dir, "cuda_smoke.json")}', flush=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
