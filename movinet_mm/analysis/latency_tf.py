"""The TF reference rows of the latency benchmark: the official MoViNet.

- ``tf``: the official model called through a ``tf.function``;
- ``tflite``: the official model converted the official way (tensorflow/models'
  ``export_saved_model.py``, then ``TFLiteConverter.from_saved_model``) and run
  by ``tf.lite.Interpreter``'s signature runner, each output state fed back by
  name: the deployed reference every ratio of the benchmark is against.

Run as a script by :func:`movinet_mm.analysis.latency.run_row` under the TF
interpreter (``.venv-tf``), which has no torch: ``python latency_tf.py
SPEC_JSON`` prints one result line; ``python latency_tf.py --convert
SPEC_JSON PATH`` writes the ``.tflite`` file of a stream spec (the
benchmark caches it in its work dir). It must therefore not import the
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


def official_model(tf, arch: str, stream: bool):
    """The official model, built as tensorflow/models' export_saved_model.py
    builds it (random weights: the Keras initialisers, seed 0)."""
    from official.projects.movinet.modeling import movinet, movinet_model
    tf.random.set_seed(0)
    backbone = movinet.Movinet(
        model_id=arch, causal=stream,
        conv_type='2plus1d' if stream else '3d',
        se_type='2plus3d' if stream else '3d',
        activation='hard_swish' if stream else 'swish',
        gating_activation='hard_sigmoid' if stream else 'sigmoid',
        use_positional_encoding=stream and arch in ('a3', 'a4', 'a5'),
        use_external_states=stream)
    return movinet_model.MovinetClassifier(backbone, num_classes=600,
                                           output_states=stream)


def measure_tf(spec: dict) -> dict:
    """The official model through a ``tf.function``."""
    tf = _tf_setup(spec['threads'])
    import numpy as np
    arch, size = spec['arch'], spec['size']
    stream = spec['mode'] == 'stream'
    model = official_model(tf, arch, stream)
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


def convert_tflite(spec: dict, path: str) -> None:
    """Write the official stream model of ``spec`` (arch, size) as a
    ``.tflite`` file at ``path``, the official way: a SavedModel whose
    serving signature maps the flat dict ``{**states, 'image'}`` to
    ``{**states, 'logits'}`` (batch 1, one frame), then
    ``TFLiteConverter.from_saved_model``. Atomic: a temp file renamed."""
    tf = _tf_setup(2)
    size = spec['size']
    model = official_model(tf, spec['arch'], stream=True)
    shape = [1, 1, size, size, 3]
    model.build(shape)
    states = model.init_states(tf.constant(shape))
    signature = {name: tf.TensorSpec(value.shape, value.dtype, name=name)
                 for name, value in states.items()}
    signature['image'] = tf.TensorSpec(shape, tf.float32, name='image')

    @tf.function(input_signature=[signature])
    def serve(inputs):
        logits, new_states = model(inputs, training=False)
        return {**new_states, 'logits': logits}

    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(model, tmp, signatures={'serving_default': serve})
        data = tf.lite.TFLiteConverter.from_saved_model(tmp).convert()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    part = f'{path}.part'
    with open(part, 'wb') as f:
        f.write(data)
    os.replace(part, path)


def measure_tflite(spec: dict) -> dict:
    """The official ``.tflite`` stream model (``official.tflite`` in
    ``spec['model_dir']``, made by :func:`convert_tflite`) in
    ``tf.lite.Interpreter`` (XNNPACK, applied by default), one
    signature-runner call per frame, each output state fed back by name."""
    tf = _tf_setup(spec['threads'])
    import numpy as np
    path, size = os.path.join(spec['model_dir'], 'official.tflite'), spec['size']
    interpreter = tf.lite.Interpreter(model_path=path,
                                      num_threads=spec['threads'])
    runner = interpreter.get_signature_runner()
    details = runner.get_input_details()
    states = {name: np.zeros(d['shape'], d['dtype'])
              for name, d in details.items() if name != 'image'}
    rng = np.random.default_rng(0)
    frames = [rng.random((1, 1, size, size, 3), dtype=np.float32)
              for _ in range(8)]
    times = []
    for i in range(spec['warmup'] + spec['frames']):
        t0 = time.perf_counter()
        out = runner(image=frames[i % 8], **states)
        states = {name: out[name] for name in states}
        dt = time.perf_counter() - t0
        if i >= spec['warmup']:
            times.append(dt)
    model_bytes = os.path.getsize(path)
    return dict(summarize(times), model_bytes=model_bytes,
                tflite_bytes=model_bytes, peak_rss_bytes=peak_rss_bytes(),
                tensorflow=tf.__version__)


def measure(spec: dict) -> dict:
    """One row: ``tflite`` or ``tf``."""
    if spec['backend'] == 'tflite':
        return measure_tflite(spec)
    return measure_tf(spec)


if __name__ == '__main__':
    import json
    if sys.argv[1] == '--convert':
        convert_tflite(json.loads(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    spec = json.loads(sys.argv[1])
    os.environ['OMP_NUM_THREADS'] = str(spec['threads'])
    print_result(measure(spec))
