# Copyright (c) mmkdwsd authors. All rights reserved.
"""separable_roi_align equals mmcv's RoIAlign, forward and backward."""
import pytest
import torch
from mmcv.ops import roi_align

from mmkdwsd.models.utils import rois_from_boxes, separable_roi_align


def _boxes(num, per_image, height, width, stride, seed=0):
    """Boxes in input pixels, some reaching past the map on every side,
    one smaller than a feature cell."""
    gen = torch.Generator().manual_seed(seed)
    size = torch.tensor([width, height]) * stride
    xy = torch.rand(num, per_image, 2, generator=gen) * size * 1.2 \
        - size * 0.1
    wh = torch.rand(num, per_image, 2, generator=gen) * size * 0.7 + 0.1
    boxes = torch.cat([xy, xy + wh], -1)
    boxes[0, 0] = torch.tensor([1.0, 1.0, 1.2, 1.3])
    return boxes


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [1, 2, 3])
@pytest.mark.parametrize('height,width', [(9, 11), (10, 10)])
def test_equals_mmcv_roi_align(aligned, sampling_ratio, height, width):
    num, channels, stride = 3, 5, 4
    feat = torch.randn(num, channels, height, width, requires_grad=True)
    boxes = _boxes(num, 13, height, width, stride)
    theirs = roi_align(feat, rois_from_boxes(boxes), 7, 1 / stride,
                       sampling_ratio, 'avg', aligned)
    ours = separable_roi_align(feat, boxes, 7, 1 / stride, sampling_ratio,
                               aligned)
    assert ours.shape == (num * 13, channels, 7, 7)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert theirs.abs().max() > 0.5  # the regions saw the map
    grad = torch.randn_like(theirs)
    grad_theirs, = torch.autograd.grad(theirs, feat, grad)
    grad_ours, = torch.autograd.grad(ours, feat, grad)
    torch.testing.assert_close(grad_ours, grad_theirs, atol=1e-4, rtol=1e-5)


def test_bfloat16_under_autocast_is_close():
    feat = torch.randn(2, 8, 14, 14)
    boxes = _boxes(2, 6, 14, 14, 16)
    theirs = roi_align(feat, rois_from_boxes(boxes), 7, 1 / 16, 2, 'avg',
                       True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        ours = separable_roi_align(feat.bfloat16(), boxes, 7, 1 / 16, 2)
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), theirs, atol=0.05, rtol=0.02)


def test_bad_arguments_are_named():
    feat = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match='sampling_ratio must be > 0'):
        separable_roi_align(feat, torch.zeros(2, 1, 4), 2, 1.0, 0)
    with pytest.raises(ValueError, match=r'boxes must be \(N, S, 4\) for 2 '
                       r'images, got \(3, 1, 4\)'):
        separable_roi_align(feat, torch.zeros(3, 1, 4), 2, 1.0, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='requires CUDA')
def test_cuda_equals_mmcv_cuda_roi_align():
    feat = torch.randn(4, 16, 14, 14, device='cuda', requires_grad=True)
    boxes = _boxes(4, 32, 14, 14, 16).cuda()
    theirs = roi_align(feat, rois_from_boxes(boxes), 7, 1 / 16, 2, 'avg',
                       True)
    ours = separable_roi_align(feat, boxes, 7, 1 / 16, 2)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    grad = torch.randn_like(theirs)
    grad_theirs, = torch.autograd.grad(theirs, feat, grad)
    grad_ours, = torch.autograd.grad(ours, feat, grad)
    torch.testing.assert_close(grad_ours, grad_theirs, atol=1e-3, rtol=1e-4)
    with torch.autocast('cuda', dtype=torch.bfloat16):
        half = separable_roi_align(feat, boxes, 7, 1 / 16, 2)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), theirs, atol=0.05, rtol=0.02)
