"""Time of one CPU training step of MoViNet-A0-Stream, before and after the
fast training form (:mod:`movinet_mm.models.layers.fast_ops`).

The model, loss and optimizer are the demo's
(``configs/movinet_a0_stream_synthetic.py``: causal '2plus1d' convs,
'2plus3d' SE, hard swish / hard sigmoid, AdamW with gradient clipping).
One step is split into forward (the recognizer's loss, from the
preprocessed batch), backward and optimizer (clipping, AdamW step,
``zero_grad``). "before" runs the same model inside
:func:`~movinet_mm.models.layers.fast_ops.reference_ops` (the plain
formulation) with torch's default per-tensor AdamW over MMEngine's default
parameter groups (one per parameter), "after" the default fast form with
the config's optimizer (``fused=True``, the groups merged by
``MergedGroupsOptimWrapperConstructor``); the two alternate step by step
in one process, so that both see the same machine load.
"""
import copy
import os
import platform
import statistics
import time
from typing import Dict, List, Optional, Sequence

CONFIG = 'configs/movinet_a0_stream_synthetic.py'
# (batch, frames, size): the demo's training input (its config trains
# batch 16; 8 here) and the official training resolution with fewer frames
INPUTS = ((8, 12, 40), (8, 8, 172))
CPU_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16',
             'amx_tile', 'amx_bf16', 'amx_int8')


def cpu_description() -> dict:
    """CPU model name, logical CPUs and its vector/matrix extensions."""
    name, flags = platform.processor() or 'unknown CPU', set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name':
                    name = value.strip()
                elif key.strip() == 'flags':
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return dict(model_name=name, logical_cpus=os.cpu_count(),
                flags=[f for f in CPU_FLAGS if f in flags])


def build(config: str = CONFIG, seed: int = 0):
    """The config's recognizer (train mode) and two optimizer wrappers over
    its parameters: the config's ("after") and the same without ``fused``
    and the merged groups ("before": torch's default per-tensor AdamW, one
    group per parameter)."""
    import torch
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import movinet_mm  # noqa: F401

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    from mmaction.registry import MODELS
    torch.manual_seed(seed)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # init_weights logs every parameter
    try:
        model = MODELS.build(cfg.model)
        model.init_weights()
        after = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
        cfg.optim_wrapper.optimizer.pop('fused', None)
        cfg.optim_wrapper.pop('constructor', None)
        before = build_optim_wrapper(model, cfg.optim_wrapper)
    finally:
        logger.setLevel(level)
    model.train()
    return model, {True: before, False: after}


def make_batch(model, batch: int, frames: int, size: int, seed: int = 0):
    """A preprocessed random batch of ``num_classes`` labels."""
    import torch
    from mmaction.structures import ActionDataSample

    gen = torch.Generator().manual_seed(seed)
    classes = model.cls_head.num_classes
    data = dict(
        inputs=[torch.randint(0, 256, (1, 3, frames, size, size),
                              dtype=torch.uint8, generator=gen)
                for _ in range(batch)],
        data_samples=[ActionDataSample().set_gt_label(i % classes)
                      for i in range(batch)])
    return model.data_preprocessor(data, training=True)


def time_step(model, wrapper, data, reference: bool) -> Dict[str, float]:
    """Seconds of the forward, backward and optimizer parts of one step
    (``reference``: in the plain formulation)."""
    from movinet_mm.models.layers.fast_ops import reference_ops

    with reference_ops(reference):
        t0 = time.perf_counter()
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        t1 = time.perf_counter()
        wrapper.backward(loss)
        t2 = time.perf_counter()
        wrapper.step()
        wrapper.zero_grad()
        t3 = time.perf_counter()
    return dict(forward=t1 - t0, backward=t2 - t1, optimizer=t3 - t2,
                step=t3 - t0)


def measure(inputs: Sequence[Sequence[int]] = INPUTS,
            threads: Sequence[int] = (1, 2), runs: int = 5,
            config: str = CONFIG, log=print) -> List[dict]:
    """Rows of median times (ms) per input, thread count and variant."""
    import torch

    torch.set_flush_denormal(True)
    model, wrappers = build(config)
    rows = []
    for batch, frames, size in inputs:
        data = make_batch(model, batch, frames, size)
        for n_threads in threads:
            torch.set_num_threads(n_threads)
            times = {False: [], True: []}
            for reference in (True, False):  # warm-up (oneDNN primitives)
                time_step(model, wrappers[reference], data, reference)
            for i in range(runs):
                order = (True, False) if i % 2 == 0 else (False, True)
                for reference in order:
                    times[reference].append(time_step(
                        model, wrappers[reference], data, reference))
            for reference in (True, False):
                row = dict(batch=batch, frames=frames, size=size,
                           threads=n_threads,
                           variant='before' if reference else 'after',
                           runs=runs)
                for part in ('forward', 'backward', 'optimizer', 'step'):
                    row[f'{part}_ms'] = 1000 * statistics.median(
                        t[part] for t in times[reference])
                rows.append(row)
            before, after = rows[-2]['step_ms'], rows[-1]['step_ms']
            log(f'batch {batch} x {frames} x {size}x{size}, {n_threads} '
                f'thread(s): before {before:.1f} ms, after {after:.1f} ms '
                f'({before / after:.2f}x)')
    return rows


def run(inputs: Sequence[Sequence[int]] = INPUTS,
        threads: Sequence[int] = (1, 2), runs: int = 5,
        config: str = CONFIG, log=print) -> dict:
    """The whole benchmark: machine, settings and rows."""
    import torch
    load_before = os.getloadavg()
    rows = measure(inputs, threads, runs, config, log)
    return dict(
        machine=cpu_description(), torch=torch.__version__,
        date=time.strftime('%Y-%m-%d', time.gmtime()), config=config,
        runs=runs, load_1min=[load_before[0], os.getloadavg()[0]],
        rows=rows)


def _pair_rows(rows: List[dict]):
    by_key = {}
    for r in rows:
        key = (r['batch'], r['frames'], r['size'], r['threads'])
        by_key.setdefault(key, {})[r['variant']] = r
    return by_key


def markdown_table(result: dict) -> str:
    """Before/after per input and thread count: step (forward / backward /
    optimizer), median ms, and the speed-up of the step."""
    m = result['machine']
    lines = [
        f"{m['model_name']} ({m['logical_cpus']} logical CPUs; "
        f"{', '.join(m['flags']) or 'no AVX-512/AMX'}), torch "
        f"{result['torch']}, {result['date']}; median of {result['runs']} "
        f"steps, before and after alternating; load average "
        f"{result['load_1min'][0]:.1f} / {result['load_1min'][1]:.1f} "
        '(start / end).', '',
        '| input (batch x frames x size) | threads | before: step (fwd / '
        'bwd / opt) ms | after: step (fwd / bwd / opt) ms | speed-up |',
        '|---|---|---|---|---|']

    def cell(r):
        return (f"**{r['step_ms']:.1f}** ({r['forward_ms']:.1f} / "
                f"{r['backward_ms']:.1f} / {r['optimizer_ms']:.1f})")

    for (batch, frames, size, threads), pair in _pair_rows(
            result['rows']).items():
        before, after = pair.get('before'), pair.get('after')
        if before is None or after is None:
            continue
        lines.append(
            f'| {batch} x {frames} x {size}x{size} | {threads} | '
            f'{cell(before)} | {cell(after)} | '
            f"{before['step_ms'] / after['step_ms']:.2f}x |")
    return '\n'.join(lines)


def parse_input(text: str) -> Optional[tuple]:
    """'8x12x40' -> (8, 12, 40)."""
    parts = tuple(int(p) for p in text.lower().split('x'))
    if len(parts) != 3:
        raise ValueError(f'expected BATCHxFRAMESxSIZE, got {text!r}')
    return parts
