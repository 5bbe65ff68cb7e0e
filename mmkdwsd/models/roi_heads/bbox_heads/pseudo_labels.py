# Copyright (c) mmkdwsd authors. All rights reserved.
"""Pseudo-label mining for online instance classifier refinement (OICR)."""
from typing import Tuple

import torch
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor


def mine_pseudo_labels_batch(bboxes: Tensor,
                             prev_scores: Tensor,
                             gt_mask: Tensor,
                             iou_thr: float = 0.5,
                             ignore_iou_thr: float = 0.0
                             ) -> Tuple[Tensor, Tensor]:
    """Mine region pseudo-labels of a batch of images at once.

    Implements the label mining of `OICR <https://arxiv.org/abs/1704.00138>`_
    for B images whose regions are padded to a common R. For every class
    present in an image, the image's region with the highest score of the
    previous stream is the seed of that class. Every region is matched to the
    seed of its image it overlaps most (max-IoU assignment): with IoU >=
    ``iou_thr`` it takes the seed's class, otherwise it is background. Each
    region's loss weight is the score of its matched seed. Padded regions are
    those whose scores are negative (pad the scores with -1): they are never
    seeds and get weight 0. A pure function of its inputs (no gradient flows
    through the returned tensors) with no host-device synchronisation, so
    that a GPU step launches a fixed number of kernels whatever the batch.

    When one region is the seed of several classes, the region (and its
    neighbours) take the first of those classes in ascending class order.

    Args:
        bboxes (Tensor): Region boxes (x1, y1, x2, y2), shape (B, R, 4).
        prev_scores (Tensor): Foreground region scores of the previous
            stream, shape (B, R, K), in [0, 1]; -1 on padded regions.
        gt_mask (Tensor): Classes present in each image, shape (B, K), bool
            (or 0/1). A row may be all false.
        iou_thr (float): IoU with a seed from which a region takes the
            seed's class. Defaults to 0.5.
        ignore_iou_thr (float): Regions whose best IoU with any seed is
            below this get weight 0 (ignored). 0 keeps every region as in the
            OICR paper. Defaults to 0.0.

    Returns:
        tuple[Tensor, Tensor]:

        - labels (Tensor): Pseudo-labels, shape (B, R), values in [0, K];
          K is background.
        - weights (Tensor): Per-region loss weights, shape (B, R), float32.
          All zero in an image with no positive class and on padded regions.
    """
    prev_scores = prev_scores.detach().float()
    bboxes = bboxes.detach().float()
    num_classes = prev_scores.shape[-1]
    present = gt_mask.bool()
    # (B, K): each class's seed region in its image and the seed's score
    seed_scores, seed_inds = prev_scores.max(dim=1)
    seed_boxes = bboxes.gather(1, seed_inds[..., None].expand(-1, -1, 4))
    ious = bbox_overlaps(bboxes, seed_boxes)  # (B, R, K)
    # absent classes have no seed: below any real IoU, so never matched
    ious = ious.masked_fill(~present[:, None, :], -1.0)
    max_ious, assigned = ious.max(dim=2)  # first class among ties
    labels = torch.where(max_ious >= iou_thr, assigned,
                         torch.full_like(assigned, num_classes))
    weights = seed_scores.gather(1, assigned)
    keep = ((max_ious >= ignore_iou_thr) & present.any(dim=1, keepdim=True)
            & (prev_scores[..., 0] >= 0))
    weights = torch.where(keep, weights, torch.zeros_like(weights))
    return labels, weights


def mine_pseudo_labels(bboxes: Tensor,
                       prev_scores: Tensor,
                       gt_labels: Tensor,
                       iou_thr: float = 0.5,
                       ignore_iou_thr: float = 0.0) -> Tuple[Tensor, Tensor]:
    """Mine region pseudo-labels of one image from the previous stream.

    :func:`mine_pseudo_labels_batch` for a single image given its present
    class indices.

    Args:
        bboxes (Tensor): Region boxes (x1, y1, x2, y2), shape (R, 4).
        prev_scores (Tensor): Foreground region scores of the previous
            stream, shape (R, K).
        gt_labels (Tensor): Indices of the classes present in the image,
            shape (P, ). May be empty.
        iou_thr (float): See :func:`mine_pseudo_labels_batch`.
        ignore_iou_thr (float): See :func:`mine_pseudo_labels_batch`.

    Returns:
        tuple[Tensor, Tensor]: labels (R, ) in [0, K] (K is background) and
        weights (R, ), float32 (all zero when the image has no positive
        class).
    """
    num_rois, num_classes = prev_scores.shape
    if num_rois == 0:
        return (torch.full((0, ), num_classes, dtype=torch.long,
                           device=prev_scores.device),
                prev_scores.new_zeros(0, dtype=torch.float32))
    gt_mask = prev_scores.new_zeros(num_classes, dtype=torch.bool)
    gt_mask[gt_labels.long().to(prev_scores.device)] = True
    labels, weights = mine_pseudo_labels_batch(bboxes[None],
                                               prev_scores[None],
                                               gt_mask[None], iou_thr,
                                               ignore_iou_thr)
    return labels[0], weights[0]
