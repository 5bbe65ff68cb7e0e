# Copyright (c) mmkdwsd authors. All rights reserved.
"""mmdeploy function rewriters the student needs for ONNX export.

mmpretrain's ``GeneralizedMeanPooling`` pools with
``F.avg_pool2d(x.pow(p), (x.size(-2), x.size(-1)))``: under tracing the
kernel size becomes a graph value and ONNX's ``AveragePool`` needs a
constant, so the export fails (mmdeploy 1.3.1 ships no rewriter for it).
The rewriter computes the same value with a mean over the spatial axes,
which exports to ``ReduceMean`` for any input size. It is registered when
:mod:`mmkdwsd.deploy` is imported (``tools/deploy.py`` does); the ONNX file
it produces runs without mmkdwsd.
"""
import torch
from mmdeploy.core import FUNCTION_REWRITER


@FUNCTION_REWRITER.register_rewriter(
    'mmpretrain.models.necks.gem.gem', backend='default')
def gem__default(x: torch.Tensor,
                 p: torch.Tensor,
                 eps: float = 1e-6,
                 clamp: bool = True) -> torch.Tensor:
    """GeM pooling as a spatial mean: (N, C, H, W) -> (N, C, 1, 1)."""
    if clamp:
        x = x.clamp(min=eps)
    return x.pow(p).mean(dim=(-2, -1), keepdim=True).pow(1. / p)
