# Copyright (c) mmkdwsd authors. All rights reserved.
"""RoIAlign as two batched matrix products, for the same number of regions
per image.

mmcv's ``RoIAlign`` (``pool_mode='avg'``) averages, in each of the P x P
bins of a region, a grid of ``sampling_ratio`` x ``sampling_ratio``
bilinear samples. A sample's bilinear weights are a product of a weight
along y and one along x, its validity test (inside [-1, H] x [-1, W]) is a
product of one test per axis, and the grid is the product of its rows and
columns, so the whole pooling factorises: for region m of image n,

    out[m, c, p, q] = sum_{h, w} Wy[m, p, h] * F[n, c, h, w] * Wx[m, q, w]

with Wy (P, H) and Wx (P, W) the averaged bilinear weights of the bin rows
and columns. Two ``bmm`` compute it, and autograd's backward of a ``bmm``
is two more: no scattered atomic additions, which mmcv's CUDA backward
makes into every map location a region covers, and the products run in
bfloat16 under autocast (mmcv has no bfloat16 kernel). The results equal
mmcv's to float rounding (tests/test_models/test_utils).
"""
import torch
from torch import Tensor


def _axis_weights(start: Tensor, end: Tensor, output_size: int, length: int,
                  sampling_ratio: int, aligned: bool) -> Tensor:
    """Averaged bilinear weights of the bins along one axis.

    Args:
        start, end (Tensor): Region bounds on the feature map, (N, S) or
            (N, S, 2) for both axes, already shifted by -0.5 when
            ``aligned``.
        output_size (int): Bins P along the axis.
        length (int): Feature map size L along the axis.
        sampling_ratio (int): Samples per bin along the axis.
        aligned (bool): mmcv's ``aligned`` (no minimum region size).

    Returns:
        Tensor: Shape (N, S, P, L) (or (N, S, 2, P, L)), float32.
    """
    size = end - start
    if not aligned:  # mmcv: legacy regions are at least one cell
        size = size.clamp(min=1.0)
    bins = size / output_size
    offsets = (torch.arange(output_size, device=start.device)[:, None] +
               (torch.arange(sampling_ratio, device=start.device) + 0.5) /
               sampling_ratio)  # (P, G) in bins
    pos = start[..., None, None] + offsets * bins[..., None, None]
    # mmcv returns 0 outside [-1, L]; inside, it clamps a sample to
    # [0, L - 1] and interpolates between the two cells around it, which is
    # the hat function max(0, 1 - |pos - cell|) of the clamped position
    scale = ((pos >= -1.0) & (pos <= length)) / float(sampling_ratio)
    cells = torch.arange(length, device=start.device, dtype=pos.dtype)
    hat = 1.0 - (pos.clamp(0.0, length - 1.0)[..., None] - cells).abs()
    return (hat.relu() * scale[..., None]).sum(-2)


def separable_roi_align(feat_map: Tensor,
                        boxes: Tensor,
                        output_size: int,
                        spatial_scale: float,
                        sampling_ratio: int,
                        aligned: bool = True) -> Tensor:
    """mmcv ``roi_align(..., pool_mode='avg')`` on S boxes per image.

    Args:
        feat_map (Tensor): Shape (N, C, H, W).
        boxes (Tensor): Shape (N, S, 4), ``(x1, y1, x2, y2)`` in input
            pixels, image by image.
        output_size (int): Bins P per side.
        spatial_scale (float): Feature map size / input size.
        sampling_ratio (int): Samples per bin along each axis (> 0; mmcv's
            adaptive 0 is not supported).
        aligned (bool): mmcv's ``aligned``. Defaults to True.

    Returns:
        Tensor: Shape (N * S, C, P, P), in ``feat_map``'s dtype (the
        products' under autocast).
    """
    if sampling_ratio <= 0:
        raise ValueError('separable_roi_align: sampling_ratio must be > 0, '
                         f'got {sampling_ratio} (adaptive sampling varies '
                         'the grid per region)')
    num, channels, height, width = feat_map.shape
    if boxes.dim() != 3 or boxes.shape[0] != num or boxes.shape[2] != 4:
        raise ValueError('separable_roi_align: boxes must be (N, S, 4) for '
                         f'{num} images, got {tuple(boxes.shape)}')
    per_image, size = boxes.shape[1], output_size
    coords = boxes.float() * spatial_scale - (0.5 if aligned else 0.0)
    if height == width:  # both axes at once: half the small kernels
        w_x, w_y = _axis_weights(coords[..., :2], coords[..., 2:], size,
                                 height, sampling_ratio,
                                 aligned).unbind(-3)
    else:
        w_y = _axis_weights(coords[..., 1], coords[..., 3], size, height,
                            sampling_ratio, aligned)
        w_x = _axis_weights(coords[..., 0], coords[..., 2], size, width,
                            sampling_ratio, aligned)
    dtype = feat_map.dtype
    # rows: (N, S * P, H) @ (N, H, C * W) -> (N, S * P, C * W)
    rows = torch.bmm(
        w_y.to(dtype).reshape(num, per_image * size, height),
        feat_map.transpose(1, 2).reshape(num, height, channels * width))
    # columns: (N * S, P * C, W) @ (N * S, W, P) -> (N * S, P * C, P)
    out = torch.bmm(
        rows.reshape(num * per_image, size * channels, width),
        w_x.to(rows.dtype).reshape(num * per_image, size,
                                   width).transpose(1, 2))
    return out.reshape(num * per_image, size, channels,
                       size).transpose(1, 2)
