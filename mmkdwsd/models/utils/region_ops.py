# Copyright (c) mmkdwsd authors. All rights reserved.
"""Per-image operations on the regions of a batch, batched when they can be.

The regions of a batch are concatenated image by image: (R, ...) with
``R = sum(num_rois)``. Per image, each operation is a few small kernels, a
few hundred per step at 64 images, which costs a small model more than its
FLOPs on a GPU (tools/benchmarks/step_ops.py). When every image has the
same number of regions (the usual fixed proposal count) these functions
reshape to (N, R_i, ...) and run once for the batch; otherwise they loop,
with the same results.
"""
from typing import Optional, Sequence

import torch
from mmdet.structures.bbox import bbox2roi
from torch import Tensor


def same_region_count(num_rois: Sequence[int]) -> bool:
    """Whether every image has the same (non-zero) number of regions."""
    return len(num_rois) > 0 and num_rois[0] > 0 and all(
        n == num_rois[0] for n in num_rois)


def rois_from_boxes(boxes: Sequence[Tensor]) -> Tensor:
    """mmdet's ``bbox2roi``: RoIs (R, 5) ``(image index, x1, y1, x2, y2)``.

    Args:
        boxes (Sequence[Tensor]): Per image (R_i, 4); or one (N, R_i, 4)
            tensor.

    Returns:
        Tensor: Shape (R, 5), images in order.
    """
    if isinstance(boxes, Tensor) or same_region_count([len(b) for b in boxes]):
        stacked = boxes if isinstance(boxes, Tensor) else torch.stack(
            list(boxes))
        num, per_image = stacked.shape[:2]
        images = torch.arange(
            num, device=stacked.device,
            dtype=stacked.dtype)[:, None, None].expand(num, per_image, 1)
        return torch.cat([images, stacked], dim=2).flatten(0, 1)
    return bbox2roi(list(boxes))


def region_softmax(logits: Tensor, num_rois: Sequence[int]) -> Tensor:
    """Softmax over each image's regions (dim 0 within each image).

    Args:
        logits (Tensor): Shape (R, K), images concatenated.
        num_rois (Sequence[int]): Regions per image, summing to R.

    Returns:
        Tensor: Shape (R, K); each image's rows sum to 1 per column.
    """
    if same_region_count(num_rois):
        return logits.reshape(len(num_rois), num_rois[0],
                              -1).softmax(dim=1).reshape(logits.shape)
    return torch.cat(
        [part.softmax(dim=0) for part in logits.split(list(num_rois))])


def wsddn_region_scores(cls_logits: Tensor,
                        det_logits: Tensor,
                        num_rois: Sequence[int],
                        cls_temperature: float = 1.,
                        det_temperature: float = 1.) -> Tensor:
    """WSDDN's region scores ``softmax_K(M^c / t_c) * softmax_R(M^d / t_d)``.

    Computed in float32: under fp16 autocast the R-way softmax of sharpened
    logits underflows. Each image's column sums (``region_sum``) are its
    image-level scores, in [0, 1].

    Args:
        cls_logits (Tensor): Classification stream ``M^c``, shape (R, K),
            images concatenated.
        det_logits (Tensor): Detection stream ``M^d``, shape (R, K).
        num_rois (Sequence[int]): Regions per image, summing to R.
        cls_temperature (float): ``t_c``. Defaults to 1 (WSDDN).
        det_temperature (float): ``t_d``. Defaults to 1 (WSDDN).

    Returns:
        Tensor: Region scores, shape (R, K), float32.
    """
    cls_prob = (cls_logits.float() / cls_temperature).softmax(dim=1)
    det_prob = region_softmax(det_logits.float() / det_temperature, num_rois)
    return cls_prob * det_prob


def region_sum(values: Tensor, num_rois: Sequence[int]) -> Tensor:
    """Sum over each image's regions.

    Args:
        values (Tensor): Shape (R, K), images concatenated.
        num_rois (Sequence[int]): Regions per image, summing to R.

    Returns:
        Tensor: Shape (N, K).
    """
    if same_region_count(num_rois):
        return values.reshape(len(num_rois), num_rois[0], -1).sum(dim=1)
    return torch.stack(
        [part.sum(dim=0) for part in values.split(list(num_rois))])


def pad_regions(values: Tensor, num_rois: Sequence[int],
                value: float = 0.0) -> Tensor:
    """Per-image regions of a batch as one padded (N, R_max, ...) tensor.

    A view without a copy when every image has the same number of regions
    (the usual case with a fixed proposal count), else one padded copy.

    Args:
        values (Tensor): Shape (R, ...), all images concatenated.
        num_rois (Sequence[int]): Regions per image, summing to R.
        value (float): Fill of the padded rows. Defaults to 0.

    Returns:
        Tensor: Shape (N, R_max, ...); row r of image i is region r of image
        i where r < R_i, ``value`` after.
    """
    num_rois = list(num_rois)
    if same_region_count(num_rois):
        return values.view(len(num_rois), num_rois[0], *values.shape[1:])
    return torch.nn.utils.rnn.pad_sequence(
        list(values.split(num_rois)), batch_first=True, padding_value=value)


def multi_hot(labels: Sequence[Tensor], like: Tensor) -> Tensor:
    """Multi-hot targets (N, K) of per-image class indices, in one scatter.

    Args:
        labels (Sequence[Tensor]): Class indices (P_i, ) per image.
        like (Tensor): An (N, K) tensor: the targets' shape, dtype, device.

    Returns:
        Tensor: 1 at each (image, present class), 0 elsewhere.
    """
    targets = torch.zeros_like(like)
    counts = [len(image_labels) for image_labels in labels]
    if sum(counts):
        classes = torch.cat(list(labels)).to(like.device).long()
        images = torch.repeat_interleave(torch.tensor(counts)).to(
            like.device, non_blocking=True)
        targets.index_put_((images, classes),
                           torch.ones((), dtype=like.dtype,
                                      device=like.device))
    return targets


def stacked_view(tensors: Sequence[Tensor]) -> Optional[Tensor]:
    """The (N, R, ...) tensor whose rows the equal-shaped contiguous
    ``tensors`` are, consecutive in one storage (what ``split`` of an
    (N * R, ...) tensor returns), as a view without a copy; None otherwise.

    Args:
        tensors (Sequence[Tensor]): Per image (R, ...).

    Returns:
        Tensor, optional: Shape (N, R, ...), sharing their memory.
    """
    if not tensors:
        return None
    first = tensors[0]
    if not first.is_contiguous() or first.numel() == 0:
        return None
    ptr = first.untyped_storage().data_ptr()
    for i, tensor in enumerate(tensors):
        if (tensor.shape != first.shape or not tensor.is_contiguous()
                or tensor.untyped_storage().data_ptr() != ptr
                or tensor.storage_offset() !=
                first.storage_offset() + i * first.numel()):
            return None
    return first.as_strided((len(tensors), ) + tuple(first.shape),
                            (first.numel(), ) + tuple(first.stride()))
