#!/usr/bin/env python
"""Official TF MoViNets with random weights: checkpoints + reference logits.

Run with the TensorFlow reference env (``make tf-venv``), not the main one::

    .venv-tf/bin/python tools/tf_reference/make_official_checkpoint.py \\
        --out /tmp/ref a0:base a0:stream a3:stream:2plus1d:600:2x8x65x65

Each case is ``arch:mode[:conv_type[:num_classes[:BxTxHxW[:clip]]]]``
(defaults: conv_type '3d' for base, '2plus1d' for stream; 600 classes;
2x8x64x64); a final ``clip`` skips the frame-by-frame run of a stream model
(with '3d_2plus1d' it recompiles its XLA convs for every frame: slow).
The model is built the way the official README does (tensorflow/models
official/projects/movinet: ``movinet.Movinet`` + ``MovinetClassifier``;
stream = causal, se_type '2plus3d', hard_swish / hard_sigmoid, positional
encoding for a3-a5, classifier activation 'swish'). Every variable is then
randomised deterministically (the seed comes from the case name), with
magnitudes that keep the logits O(10) even for a5: kernels He-normal, BN
gamma U(0.5, 1.5), beta N(0, 0.1), moving mean N(0, 0.1), moving variance
U(0.5, 1.5), biases N(0, 0.05), every ReZero scale (blocks and positional
encoding) U(0.1, 0.3).

For each case ``<out>/<name>/`` gets:

* ``ckpt/``: ``tf.train.Checkpoint(model=model).save('ckpt/ckpt')``, the
  layout of the released checkpoints (``checkpoint``, ``ckpt-1.index``,
  ``ckpt-1.data-00000-of-00001``);
* ``<name>.tar.gz`` with ``--tar``: that directory packed like a release
  (``movinet_<arch>_<mode>/...``);
* ``io.npz``: ``x`` the input clip [B, T, H, W, 3] in [0, 1), ``logits``
  the whole-clip logits; stream models also ``logits_stream`` (after
  feeding the clip frame by frame with ``use_external_states=True`` from
  ``init_states``) and ``logits_stream_all`` [T, B, classes];
* ``tf_vars.json``: every variable as ``tf.train.load_checkpoint`` reads
  it back (dtype, shape, sha256 of the bytes), to check the TF-free reader;
* ``case.json``: the configuration and timings.

``--dtype-probe`` also writes ``<out>/dtype_probe/``: a checkpoint of
variables of every numeric dtype the TF-free reader supports, with
``tf_vars.json`` and ``values.npz`` (bfloat16 widened to float32).
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tarfile
import time
import zlib

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from official.projects.movinet.modeling import (
    movinet,  # noqa: E402
    movinet_model,  # noqa: E402
)

ARCHS = ('a0', 'a1', 'a2', 'a3', 'a4', 'a5', 't0')
DEFAULT_SHAPE = (2, 8, 64, 64)


def parse_case(spec):
  parts = spec.split(':')
  if len(parts) < 2 or parts[0] not in ARCHS or parts[1] not in ('base',
                                                                 'stream'):
    raise SystemExit(f'bad case {spec!r}: arch:mode[:conv_type[:num_classes'
                     '[:BxTxHxW[:clip]]]], arch in a0-a5/t0, mode base or '
                     'stream')
  arch, mode = parts[0], parts[1]
  conv_type = parts[2] if len(parts) > 2 and parts[2] else (
      '3d' if mode == 'base' else '2plus1d')
  num_classes = int(parts[3]) if len(parts) > 3 and parts[3] else 600
  shape = tuple(int(v) for v in parts[4].split('x')) if len(
      parts) > 4 and parts[4] else DEFAULT_SHAPE
  if len(shape) != 4:
    raise SystemExit(f'bad input shape in {spec!r}: BxTxHxW')
  if len(parts) > 5 and parts[5] not in ('', 'clip'):
    raise SystemExit(f'bad flag {parts[5]!r} in {spec!r}: only "clip"')
  stream_frames = mode == 'stream' and not (len(parts) > 5 and
                                            parts[5] == 'clip')
  name = f'{arch}_{mode}_{conv_type}_{num_classes}_{"x".join(map(str, shape))}'
  if mode == 'stream' and not stream_frames:
    name += '_clip'
  return dict(name=name, arch=arch, mode=mode, conv_type=conv_type,
              num_classes=num_classes, input_shape=list(shape) + [3],
              stream_frames=stream_frames, seed=zlib.crc32(name.encode()))


def backbone_kwargs(case):
  stream = case['mode'] == 'stream'
  return dict(
      model_id=case['arch'], causal=stream, conv_type=case['conv_type'],
      se_type='2plus3d' if stream else '3d',
      activation='hard_swish' if stream else 'swish',
      gating_activation='hard_sigmoid' if stream else 'sigmoid',
      use_positional_encoding=stream and case['arch'] in ('a3', 'a4', 'a5'))


def build(case):
  kwargs = backbone_kwargs(case)
  backbone = movinet.Movinet(use_sync_bn=False,
                             use_external_states=kwargs['causal'], **kwargs)
  model = movinet_model.MovinetClassifier(
      backbone, num_classes=case['num_classes'],
      output_states=kwargs['causal'])
  model.build(case['input_shape'])
  return model


def randomize(model, rng):
  """Moderate random values for every variable (see the module docstring)."""
  for v in model.weights:
    leaf = v.name.split('/')[-1].split(':')[0]
    shape = tuple(v.shape)
    if leaf == 'kernel':  # [..., in/groups, out]
      val = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)
    elif leaf == 'depthwise_kernel':  # [kh, kw, C, 1]
      val = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:2])), shape)
    elif leaf == 'bias':
      val = rng.normal(0.0, 0.05, shape)
    elif leaf == 'gamma':
      val = rng.uniform(0.5, 1.5, shape)
    elif leaf in ('beta', 'moving_mean'):
      val = rng.normal(0.0, 0.1, shape)
    elif leaf == 'moving_variance':
      val = rng.uniform(0.5, 1.5, shape)
    elif leaf == 'scale':  # ReZero: every block and the positional encoding
      val = rng.uniform(0.1, 0.3, shape)
    else:
      raise ValueError(f'unknown variable kind {v.name} {shape}')
    v.assign(val.astype(v.dtype.as_numpy_dtype))


def describe_checkpoint(prefix):
  """What tf.train.load_checkpoint reads back: key -> dtype, shape, sha256."""
  reader = tf.train.load_checkpoint(prefix)
  dtypes = reader.get_variable_to_dtype_map()
  out = {}
  for key, shape in tf.train.list_variables(prefix):
    if dtypes[key] == tf.string:
      continue
    value = np.ascontiguousarray(reader.get_tensor(key))
    out[key] = dict(dtype=dtypes[key].name, shape=list(shape),
                    sha256=hashlib.sha256(value.tobytes()).hexdigest())
  return out


def pack(ckpt_dir, tar_path, inner):
  with tarfile.open(tar_path, 'w:gz') as tar:
    for f in sorted(os.listdir(ckpt_dir)):
      tar.add(os.path.join(ckpt_dir, f), arcname=f'{inner}/{f}')


def make_case(case, out_dir, with_tar):
  t0 = time.time()
  case_dir = os.path.join(out_dir, case['name'])
  if os.path.exists(case_dir):
    shutil.rmtree(case_dir)
  os.makedirs(case_dir)
  tf_keras.backend.clear_session()
  model = build(case)
  t_build = time.time() - t0
  rng = np.random.RandomState(case['seed'])
  randomize(model, rng)
  x = rng.uniform(0.0, 1.0, case['input_shape']).astype(np.float32)
  xt = tf.constant(x)

  ckpt_dir = os.path.join(case_dir, 'ckpt')
  prefix = tf.train.Checkpoint(model=model).save(os.path.join(ckpt_dir,
                                                              'ckpt'))
  with open(os.path.join(case_dir, 'tf_vars.json'), 'w') as f:
    json.dump(describe_checkpoint(prefix), f, indent=0)
  if with_tar:
    pack(ckpt_dir, os.path.join(case_dir, case['name'] + '.tar.gz'),
         f'movinet_{case["arch"]}_{case["mode"]}')

  io = dict(x=x)
  t1 = time.time()
  if case['mode'] == 'stream':
    states = model.init_states(tf.shape(xt))
    io['logits'] = model({**states, 'image': xt}, training=False)[0].numpy()
    per_frame = []
    for t in range(x.shape[1] if case['stream_frames'] else 0):
      logits, states = model({**states, 'image': xt[:, t:t + 1]},
                             training=False)
      per_frame.append(logits.numpy())
    if per_frame:
      io['logits_stream'] = per_frame[-1]
      io['logits_stream_all'] = np.stack(per_frame)
  else:
    io['logits'] = model(xt, training=False).numpy()
  np.savez(os.path.join(case_dir, 'io.npz'), **io)
  info = dict(case, backbone_kwargs=backbone_kwargs(case),
              classifier_activation='swish', checkpoint='ckpt/' +
              os.path.basename(prefix), build_s=round(t_build, 1),
              run_s=round(time.time() - t1, 1),
              total_s=round(time.time() - t0, 1),
              logits_abs_max=float(np.abs(io['logits']).max()),
              logits_std=float(io['logits'].std()),
              tensorflow=tf.__version__)
  if 'logits_stream' in io:
    info['tf_stream_vs_clip_max_abs'] = float(
        np.abs(io['logits_stream'] - io['logits']).max())
  with open(os.path.join(case_dir, 'case.json'), 'w') as f:
    json.dump(info, f, indent=1)
  print(f'[{case["name"]}] build {t_build:.1f}s, total {info["total_s"]}s, '
        f'|logits| max {info["logits_abs_max"]:.3g} std '
        f'{info["logits_std"]:.3g}', flush=True)


def dtype_probe(out_dir):
  """A checkpoint with one variable per numeric dtype the reader supports."""
  probe_dir = os.path.join(out_dir, 'dtype_probe')
  if os.path.exists(probe_dir):
    shutil.rmtree(probe_dir)
  rng = np.random.RandomState(7)
  values = {
      'float32': rng.normal(size=(3, 4)).astype(np.float32),
      'float16': rng.normal(size=(5, )).astype(np.float16),
      'bfloat16': rng.normal(size=(2, 3)).astype(np.float32),
      'float64': rng.normal(size=(2, 2)),
      'int32': rng.randint(-2**31, 2**31 - 1, size=(4, ), dtype=np.int64
                           ).astype(np.int32),
      'int64': rng.randint(-2**62, 2**62, size=(2, 3), dtype=np.int64),
      'uint8': rng.randint(0, 256, size=(6, )).astype(np.uint8),
      'bool': np.array([True, False, True]),
      'scalar': np.float32(0.25),
      'big': rng.normal(size=(3, 5000)).astype(np.float32),
  }
  variables = {}
  for name, value in values.items():
    dtype = tf.bfloat16 if name == 'bfloat16' else None
    variables[name] = tf.Variable(tf.constant(value, dtype=dtype))
  root = tf.train.Checkpoint(**variables)
  prefix = root.save(os.path.join(probe_dir, 'ckpt', 'probe'))
  reader = tf.train.load_checkpoint(prefix)
  read = {}
  for key, _ in tf.train.list_variables(prefix):
    if reader.get_variable_to_dtype_map()[key] == tf.string:
      continue
    v = reader.get_tensor(key)
    if reader.get_variable_to_dtype_map()[key] == tf.bfloat16:
      v = np.asarray(v, dtype=np.float32)
    read[key] = v
  np.savez(os.path.join(probe_dir, 'values.npz'), **read)
  with open(os.path.join(probe_dir, 'tf_vars.json'), 'w') as f:
    json.dump(describe_checkpoint(prefix), f, indent=0)
  print(f'[dtype_probe] {len(read)} variables', flush=True)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('cases', nargs='*',
                 help='arch:mode[:conv_type[:num_classes[:BxTxHxW[:clip]]]]')
  p.add_argument('--out', required=True, help='output directory')
  p.add_argument('--tar', action='store_true',
                 help='also pack each checkpoint as a release-style .tar.gz')
  p.add_argument('--dtype-probe', action='store_true',
                 help='also write the dtype probe checkpoint')
  args = p.parse_args(argv)
  cases = [parse_case(c) for c in args.cases]
  if not cases and not args.dtype_probe:
    p.error('nothing to do: give cases and/or --dtype-probe')
  os.makedirs(args.out, exist_ok=True)
  tf.random.set_seed(0)
  if args.dtype_probe:
    dtype_probe(args.out)
  for case in cases:
    make_case(case, args.out, args.tar)
  return 0


if __name__ == '__main__':
  sys.exit(main())
