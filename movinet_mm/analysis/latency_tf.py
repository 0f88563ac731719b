"""The TF reference row of the latency benchmark: the official MoViNet.

Run as a script by :func:`movinet_mm.analysis.latency.run_row` under the TF
interpreter (``.venv-tf``), which has no torch: ``python latency_tf.py
SPEC_JSON`` prints one result line. It must therefore not import the
movinet_mm package (whose ``__init__`` loads torch and MMAction2).
"""
import os
import sys
import tempfile
import time

if __package__:
    from .benchmark_utils import (
        dir_bytes,
        peak_rss_bytes,
        print_result,
        summarize,
        time_calls,
    )
else:  # run by path: this directory is sys.path[0]
    from benchmark_utils import (
        dir_bytes,
        peak_rss_bytes,
        print_result,
        summarize,
        time_calls,
    )


def _tf_setup(threads: int):
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def _tf_checkpoint_bytes(tf, model) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tf.train.Checkpoint(model=model).save(os.path.join(tmp, 'ckpt'))
        return dir_bytes(tmp)


def measure_tf(spec: dict) -> dict:
    """The official model, built as tensorflow/models' export_saved_model.py
    builds it (random weights: the Keras initialisers)."""
    tf = _tf_setup(spec['threads'])
    import numpy as np
    from official.projects.movinet.modeling import movinet, movinet_model
    arch, size = spec['arch'], spec['size']
    stream = spec['mode'] == 'stream'
    tf.random.set_seed(0)
    backbone = movinet.Movinet(
        model_id=arch, causal=stream,
        conv_type='2plus1d' if stream else '3d',
        se_type='2plus3d' if stream else '3d',
        activation='hard_swish' if stream else 'swish',
        gating_activation='hard_sigmoid' if stream else 'sigmoid',
        use_positional_encoding=stream and arch in ('a3', 'a4', 'a5'),
        use_external_states=stream)
    model = movinet_model.MovinetClassifier(backbone, num_classes=600,
                                            output_states=stream)
    rng = np.random.default_rng(0)
    if stream:
        shape = [1, 1, size, size, 3]
        model.build(shape)
        run = tf.function(lambda inputs: model(inputs, training=False))
        states = model.init_states(tf.constant(shape))
        frames = [tf.constant(rng.random(shape, dtype=np.float32))
                  for _ in range(8)]
        times = []
        for i in range(spec['warmup'] + spec['frames']):
            t0 = time.perf_counter()
            logits, states = run({**states, 'image': frames[i % 8]})
            logits.numpy()
            dt = time.perf_counter() - t0
            if i >= spec['warmup']:
                times.append(dt)
    else:
        shape = [1, spec['clip_frames'], size, size, 3]
        model.build(shape)
        run = tf.function(lambda x: model(x, training=False))
        x = tf.constant(rng.random(shape, dtype=np.float32))
        times = time_calls(lambda: run(x).numpy(), spec['clip_runs'])
    return dict(summarize(times), model_bytes=_tf_checkpoint_bytes(tf, model),
                peak_rss_bytes=peak_rss_bytes(), tensorflow=tf.__version__)


if __name__ == '__main__':
    import json
    spec = json.loads(sys.argv[1])
    os.environ['OMP_NUM_THREADS'] = str(spec['threads'])
    print_result(measure_tf(spec))
