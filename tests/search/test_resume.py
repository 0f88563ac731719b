"""A resumed search equals an uninterrupted one.

The tiny search of test_search_loop.py (5 iterations, checkpoints every 2),
with dropout in the supernet's head (the shipped config's 0.2; the draws
come from torch's global RNG, in the shared step and in ``quality()``):
run to the end, then resumed from its checkpoint of iteration 2 (what a run
killed after iteration 2 leaves) in another work dir.
"""
import json
import os.path as osp

import torch
from test_loop import data, tiny_target, write_config  # noqa: F401

MAX_ITERS = 5
RESUME_AT = 2
KEYS = ('iter', 'sampled_gmacs', 'quality', 'reward', 'entropy', 'baseline',
        'most_likely', 'most_likely_gmacs', 'op_warmup')


def search(config, work_dir, **options):
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.model.dropout_ratio = 0.5
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.update(options)
    runner = Runner.from_cfg(cfg)
    runner.train()
    with open(osp.join(work_dir, 'search_log.jsonl')) as f:
        log = [json.loads(line) for line in f]
    log = [r for r in log if 'event' not in r]  # the iterations' records
    logits = {k: v.detach().clone()
              for k, v in runner.train_loop.controller.logits.items()}
    with open(osp.join(work_dir, 'searched_arch.json')) as f:
        result = json.load(f)
    return log, logits, result


def test_resumed_search_equals_the_uninterrupted_one(data, tiny_target,  # noqa: F811
                                                     tmp_path):
    config = write_config(tmp_path, data, tiny_target['gmacs'],
                          max_iters=MAX_ITERS)
    full_log, full_logits, full_result = search(config, tmp_path / 'full')
    ckpt = tmp_path / 'full' / f'iter_{RESUME_AT}.pth'
    log, logits, result = search(config, tmp_path / 'resumed', resume=True,
                                 load_from=str(ckpt))

    assert [r['iter'] for r in log] == list(range(RESUME_AT + 1,
                                                  MAX_ITERS + 1))
    # the controller learns after the warm-up (iteration 2 on): the
    # records compared include its updates
    assert full_log[-1]['entropy'] < full_log[RESUME_AT - 1]['entropy']
    assert [{k: r[k] for k in KEYS} for r in log] == \
        [{k: r[k] for k in KEYS} for r in full_log[RESUME_AT:]]
    for name, value in full_logits.items():
        assert torch.equal(logits[name], value), name
    assert result['architecture'] == full_result['architecture']
    # the supernet's top-1 records: the checkpoint's, then the resumed
    # run's, equal to the uninterrupted run's (it draws no global RNG)
    assert [r['iter'] for r in full_result['supernet_top1']] == \
        list(range(1, MAX_ITERS + 1))
    assert result['supernet_top1'] == full_result['supernet_top1']

