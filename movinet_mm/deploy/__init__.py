"""Deployment: the inference form of trained MoViNets, exporters and runtimes.

- :func:`build_inference_model`: a static, BN-folded, 4-D-conv form of a
  recognizer (``'stream'``: one frame and explicit state per call;
  ``'clip'``: a whole clip), the fast PyTorch path and what is exported;
- :mod:`movinet_mm.deploy.export`: ONNX, OpenVINO IR and ExecuTorch files
  with a ``meta.json`` (``tools/deployment/export.py``);
- :func:`load_runtime`: run an exported model directory with onnxruntime,
  OpenVINO or ExecuTorch through one step contract;
- :class:`StreamPool`: many independent streams in one batched call.

Runtime packages are optional: ``pip install movinet_mm[deploy]``.
"""
from .export import MissingPackageError, export_model
from .inference import (
    ClipInferenceModel,
    StreamInferenceModel,
    build_inference_model,
    stream_frames,
)
from .meta import DeployError, read_meta
from .pool import BatchedStream, StreamPool, export_pool
from .runtime import Runtime, load_runtime

__all__ = ['build_inference_model', 'StreamInferenceModel',
           'ClipInferenceModel', 'stream_frames', 'export_model',
           'load_runtime', 'Runtime', 'read_meta', 'DeployError',
           'MissingPackageError', 'StreamPool', 'BatchedStream',
           'export_pool']
