# Copyright (c) mmkdwsd authors. All rights reserved.
"""Deployment of the exported student through mmdeploy (optional: imports
mmdeploy lazily; ``mmkdwsd/__init__.py`` does not import this package)."""
from . import rewriters  # noqa: F401  (registers mmdeploy rewriters)
from .onnx_export import (DEFAULT_DEPLOY_CFG, OnnxParityError, build_models,
                          check_multilabel_head, check_onnx_parity,
                          export_onnx, format_prediction, load_class_names,
                          make_batch, onnx_ends_with_sigmoid, onnx_inference,
                          prepare_model_cfg)

__all__ = [
    'DEFAULT_DEPLOY_CFG', 'OnnxParityError', 'build_models',
    'check_multilabel_head', 'check_onnx_parity', 'export_onnx',
    'format_prediction', 'load_class_names', 'make_batch',
    'onnx_ends_with_sigmoid', 'onnx_inference', 'prepare_model_cfg'
]
