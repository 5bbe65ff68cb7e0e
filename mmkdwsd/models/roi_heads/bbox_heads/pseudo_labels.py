# Copyright (c) mmkdwsd authors. All rights reserved.
"""Pseudo-label mining for online instance classifier refinement (OICR)."""
from typing import Tuple

import torch
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor


def mine_pseudo_labels(bboxes: Tensor,
                       prev_scores: Tensor,
                       gt_labels: Tensor,
                       iou_thr: float = 0.5,
                       ignore_iou_thr: float = 0.0) -> Tuple[Tensor, Tensor]:
    """Mine region pseudo-labels from the previous stream's region scores.

    Implements the label mining of `OICR <https://arxiv.org/abs/1704.00138>`_.
    For every class present in the image, the region with the highest score
    of the previous stream is the seed of that class. Every region is matched
    to the seed it overlaps most (max-IoU assignment): with IoU >= ``iou_thr``
    it takes the seed's class, otherwise it is background. Each region's loss
    weight is the score of its matched seed. A pure function of its inputs
    (no gradient flows through the returned tensors).

    When one region is the seed of several classes, the region (and its
    neighbours) take the first of those classes in ascending class order.

    Args:
        bboxes (Tensor): Region boxes (x1, y1, x2, y2), shape (R, 4).
        prev_scores (Tensor): Foreground region scores of the previous
            stream, shape (R, K).
        gt_labels (Tensor): Indices of the classes present in the image,
            shape (P, ). May be empty.
        iou_thr (float): IoU with a seed from which a region takes the
            seed's class. Defaults to 0.5.
        ignore_iou_thr (float): Regions whose best IoU with any seed is
            below this get weight 0 (ignored). 0 keeps every region as in the
            OICR paper. Defaults to 0.0.

    Returns:
        tuple[Tensor, Tensor]:

        - labels (Tensor): Pseudo-labels, shape (R, ), values in [0, K];
          K is background.
        - weights (Tensor): Per-region loss weights, shape (R, ), float32.
          All zero when the image has no positive class.
    """
    prev_scores = prev_scores.detach().float()
    num_rois, num_classes = prev_scores.shape
    labels = torch.full((num_rois, ),
                        num_classes,
                        dtype=torch.long,
                        device=prev_scores.device)
    weights = prev_scores.new_zeros(num_rois)
    gt_labels = torch.unique(gt_labels.long().to(prev_scores.device))
    if num_rois == 0 or gt_labels.numel() == 0:
        return labels, weights

    seed_scores, seed_inds = prev_scores[:, gt_labels].max(dim=0)  # (P, )
    bboxes = bboxes.detach().float()
    ious = bbox_overlaps(bboxes, bboxes[seed_inds])  # (R, P)
    max_ious, assigned = ious.max(dim=1)
    is_fg = max_ious >= iou_thr
    labels[is_fg] = gt_labels[assigned[is_fg]]
    weights = seed_scores[assigned].clone()
    weights[max_ious < ignore_iou_thr] = 0
    return labels, weights
