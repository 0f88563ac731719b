"""StreamPool: N streams in one batched call equal each stream run alone
(PyTorch inference form, the ONNX pool export and a batch-1 export), with
joins, leaves and a reset mid-stream; bad input is one line."""
import importlib.util

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from tiny_export import tiny_config

from movinet_mm.deploy import (
    StreamPool,
    build_inference_model,
    export_model,
    export_pool,
    load_runtime,
)
from movinet_mm.utils.random_weights import randomize_

SIZE = (32, 32)
SLOTS = 3
FRAMES = 7
# (frame, event, stream): the streams 'a'..'e' join, leave and reset while
# the others go on; 'd' takes the slot 'a' left
EVENTS = {0: [('join', 'a'), ('join', 'b')],
          2: [('join', 'c')],
          3: [('leave', 'a')],
          4: [('join', 'd'), ('reset', 'b')],
          5: [('leave', 'c')],
          6: [('join', 'e')]}


def tiny_model(root, pos_encoding=False):
    cfg = Config.fromfile(tiny_config(root))
    cfg.model.backbone.use_positional_encoding = pos_encoding
    return randomize_(MODELS.build(cfg.model), seed=7).eval(), cfg


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('pool')
    model, cfg = tiny_model(root)
    return model, cfg, root


def video(name):
    gen = torch.Generator().manual_seed(ord(name))
    return torch.rand(FRAMES, 1, 3, 1, *SIZE, generator=gen)


def run_pool(pool):
    """The schedule through ``pool``: {stream: [(frame index, logits)]}, the
    streams' frame index restarting at a reset."""
    slot_of, first, got = {}, {}, {}
    for t in range(FRAMES):
        for event, name in EVENTS.get(t, []):
            if event == 'join':
                slot_of[name] = pool.join()
                first[name] = t
            elif event == 'leave':
                pool.leave(slot_of.pop(name))
            else:
                pool.reset(slot_of[name])
                first[name + '*'] = t  # a new video in the same slot
        frames = {slot: video(name)[t] for name, slot in slot_of.items()}
        if t % 2:  # the batch form: one frame per active slot, in order
            order = sorted(frames)
            assert list(pool.active) == order
            batch = pool.step(torch.cat([frames[s] for s in order]))
            logits = {s: batch[i] for i, s in enumerate(order)}
        else:
            logits = pool.step(frames)
        for name, slot in slot_of.items():
            got.setdefault(name, []).append((t, np.asarray(logits[slot])))
    return got, first


def alone(step_fn, init, name, start, stop):
    """Logits of frames start..stop-1 of the stream ``name`` from a zero
    state, through the one-stream step."""
    state, out = init(), []
    for t in range(start, stop):
        logits, state = step_fn(video(name)[t], state)
        out.append(np.asarray(logits)[0])
    return out


def check_pool(pool, step_fn, init):
    got, first = run_pool(pool)
    reset_at = first.pop('b*')
    checked = 0
    for name, rows in got.items():
        start = first[name]
        stops = [reset_at] if name == 'b' else []
        segments = [(start, stops[0]), (reset_at, FRAMES)] if stops else \
            [(start, start + len(rows))]
        expected = []
        for a, b in segments:
            expected += alone(step_fn, init, name, a, b)
        assert len(expected) == len(rows)
        for (_, value), ref in zip(rows, expected):
            scale = np.abs(ref).max()
            assert np.abs(value - ref).max() <= 1e-5 * scale, name
            checked += 1
    assert checked == 3 + 7 + 3 + 3 + 1  # a, b, c, d, e


@pytest.mark.parametrize('pos_encoding, trace, workers',
                         [(False, True, 1), (True, True, 1),
                          (False, False, 1), (False, True, 2)])
def test_torch_pool_equals_streams_alone(tiny, pos_encoding, trace, workers):
    model = tiny_model(tiny[2], pos_encoding)[0] if pos_encoding else tiny[0]
    step = build_inference_model(model, 'stream', SIZE)

    def one(frame, states):
        with torch.no_grad():
            logits, *states = step(frame, *states)
        return logits, states
    pool = StreamPool(step, slots=SLOTS, trace=trace, workers=workers)
    check_pool(pool, one, step.init_states)
    pool.close()
    state = pool.state(pool.active[0])  # one slot's, as the step's
    assert {n: tuple(v.shape) for n, v in state.items()} == \
        dict(step.state_shapes)


@pytest.fixture(scope='module')
def exports(tiny):
    model, cfg, root = tiny
    one = export_model(model, 'onnx', 'stream', SIZE, str(root / 'one'),
                       cfg=cfg)
    pooled = export_pool(model, SIZE, str(root / 'pool'), SLOTS, cfg=cfg)
    return one, pooled


@pytest.mark.parametrize('which', ['pool', 'one', 'one-2-workers'])
def test_runtime_pool_equals_streams_alone(exports, which):
    one_dir, pool_dir = exports
    single = load_runtime(one_dir, num_threads=1)
    if which == 'pool':
        rt = load_runtime(pool_dir, num_threads=1)
        assert rt.meta['streams'] == SLOTS
        assert rt.meta['inputs'][0]['shape'] == [SLOTS, 3, 1, *SIZE]
        assert rt.meta['state_names'] == single.meta['state_names']
        pool = StreamPool(rt)
    else:  # a batch-1 export: one call per stream (in 2 threads)
        pool = StreamPool(load_runtime(one_dir, num_threads=1), slots=SLOTS,
                          workers=2 if which.endswith('workers') else 1)
    assert pool.slots == SLOTS

    def step_fn(frame, state):
        return single.stream_step(frame.numpy(), state)
    check_pool(pool, step_fn, single.init_state)
    with pytest.raises(ValueError, match=f'pool of {SLOTS} streams'):
        StreamPool(load_runtime(pool_dir), slots=SLOTS + 1)
    with pytest.raises(ValueError, match='workers must be 1'):
        StreamPool(load_runtime(pool_dir), workers=2)


def test_runtime_copies_for_workers_that_cannot_share_one(tiny, exports):
    """A runtime that takes no concurrent calls (LiteRT, ExecuTorch,
    OpenVINO) gets one copy per extra worker; onnxruntime is shared. The
    LiteRT pool in 2 workers equals each stream run alone."""
    pool = StreamPool(load_runtime(exports[0], num_threads=1), slots=SLOTS,
                      workers=2)
    assert len(pool._runtimes) == 1  # onnxruntime: one session, 2 threads
    pool.close()
    if not all(importlib.util.find_spec(m) is not None
               for m in ('litert_torch', 'ai_edge_litert')):
        pytest.skip('litert-torch / ai-edge-litert not installed')
    model, cfg, root = tiny
    litert_dir = export_model(model, 'litert', 'stream', SIZE,
                              str(root / 'litert'), cfg=cfg)
    single = load_runtime(litert_dir, num_threads=1)
    pool = StreamPool(load_runtime(litert_dir, num_threads=1), slots=SLOTS,
                      workers=2)
    assert len(pool._runtimes) == 2
    assert pool._runtimes[1] is not pool.runtime
    assert pool._runtimes[1].interpreter is not pool.runtime.interpreter
    assert pool._runtimes[1].num_threads == 1

    def step_fn(frame, state):
        return single.stream_step(frame.numpy(), state)
    check_pool(pool, step_fn, single.init_state)
    pool.close()


@pytest.mark.parametrize('runtime', ['openvino', 'executorch'])
def test_other_runtimes_in_two_workers_equal_streams_alone(tiny, exports,
                                                           runtime):
    pytest.importorskip(runtime)
    model, cfg, root = tiny
    model_dir = exports[0] if runtime == 'openvino' else export_model(
        model, 'executorch', 'stream', SIZE, str(root / 'pte'), cfg=cfg)
    single = load_runtime(model_dir, runtime, num_threads=1)
    pool = StreamPool(load_runtime(model_dir, runtime, num_threads=1),
                      slots=SLOTS, workers=2)
    assert len(pool._runtimes) == 2

    def step_fn(frame, state):
        return single.stream_step(frame.numpy(), state)
    check_pool(pool, step_fn, single.init_state)
    pool.close()


def test_bad_input(tiny):
    step = build_inference_model(tiny[0], 'stream', SIZE)
    pool = StreamPool(step, slots=2)
    frame = torch.rand(1, 3, 1, *SIZE)
    with pytest.raises(ValueError, match='no slot is streaming'):
        pool.step(frame)
    a = pool.join()
    with pytest.raises(KeyError, match='slot 1 is not streaming'):
        pool.step({1: frame})
    with pytest.raises(KeyError, match='no slot 5: slots are 0..1'):
        pool.step({5: frame})
    with pytest.raises(KeyError, match='no slot 5'):
        pool.reset(5)
    with pytest.raises(KeyError, match='slot 1 is not streaming'):
        pool.leave(1)
    with pytest.raises(KeyError, match='no slot'):
        pool.state('a')
    with pytest.raises(ValueError, match=r'\[1, 3, 1, 32, 32\]'):
        pool.step({a: torch.rand(1, 3, 1, 16, 16)})
    with pytest.raises(ValueError, match='2 frames for 1 active slots'):
        pool.step(torch.rand(2, 3, 1, *SIZE))
    with pytest.raises(ValueError, match=r'expected \[1, 3, 1, 32, 32\]'):
        pool.step(torch.rand(1, 3, 2, *SIZE))
    with pytest.raises(ValueError, match='already streaming'):
        pool.join(a)
    pool.join()
    with pytest.raises(ValueError, match='the pool is full: all 2 slots'):
        pool.join()
    with pytest.raises(ValueError, match='slots must be a positive'):
        StreamPool(step)
    with pytest.raises(ValueError, match='workers must be a positive'):
        StreamPool(step, slots=2, workers=0)
    with pytest.raises(TypeError, match='stream inference model'):
        StreamPool(tiny[0], slots=2)
    for error in (ValueError, KeyError):  # every message is one line
        try:
            pool.step({9: frame}) if error is KeyError else \
                pool.step(torch.rand(3, 3, 1, *SIZE))
        except error as e:
            assert '\n' not in str(e)
