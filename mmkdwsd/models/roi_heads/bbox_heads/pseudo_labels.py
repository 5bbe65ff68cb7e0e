# Copyright (c) mmkdwsd authors. All rights reserved.
"""Pseudo-label mining for online instance classifier refinement (OICR)."""
import math
from typing import Optional, Tuple

import torch
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor

#: the keys of each type of seeding and their defaults
SEED_DEFAULTS = dict(
    top=dict(), graph=dict(top_ratio=0.15, iou_thr=0.4, max_centers=5))


def check_seeds_cfg(seeds: Optional[dict]) -> dict:
    """Check a seeding config and fill in its defaults.

    Args:
        seeds (dict, optional): ``None`` or ``dict(type='top')``: OICR's one
            seed per class, its best region. ``dict(type='graph',
            top_ratio=0.15, iou_thr=0.4, max_centers=5)``: the graph centres
            of `PCL <https://arxiv.org/abs/1807.03342>`_, see
            :func:`graph_seeds`.

    Returns:
        dict: The config with every key of its type.
    """
    seeds = dict(seeds or dict(type='top'))
    kind = seeds.pop('type', 'top')
    if kind not in SEED_DEFAULTS:
        raise ValueError(f'refine seeds: type {kind!r} is not one of '
                         f'{tuple(SEED_DEFAULTS)}.')
    unknown = set(seeds) - set(SEED_DEFAULTS[kind])
    if unknown:
        raise ValueError(f'refine seeds of type {kind!r}: unknown keys '
                         f'{sorted(unknown)}; expected a subset of '
                         f'{sorted(SEED_DEFAULTS[kind])}.')
    cfg = dict(type=kind, **{**SEED_DEFAULTS[kind], **seeds})
    if kind == 'graph':
        if not 0 < cfg['top_ratio'] <= 1:
            raise ValueError('refine seeds: top_ratio must be in (0, 1], '
                             f'got {cfg["top_ratio"]}.')
        if not 0 <= cfg['iou_thr'] < 1:
            raise ValueError('refine seeds: iou_thr must be in [0, 1), '
                             f'got {cfg["iou_thr"]}.')
        if int(cfg['max_centers']) < 1:
            raise ValueError('refine seeds: max_centers must be >= 1, '
                             f'got {cfg["max_centers"]}.')
    return cfg


def graph_seeds(bboxes: Tensor,
                prev_scores: Tensor,
                gt_mask: Tensor,
                top_ratio: float = 0.15,
                iou_thr: float = 0.4,
                max_centers: int = 5) -> Tuple[Tensor, Tensor, Tensor]:
    """Seeds of each present class as graph centres, after PCL.

    For every image and present class, the ``ceil(top_ratio * R_i)`` regions
    with the highest scores (R_i the image's unpadded regions) are the nodes
    of a graph whose edges join two nodes overlapping with IoU >
    ``iou_thr``. The centre is the node with the most neighbours among the
    nodes left (ties to the higher score); it and its neighbours form a
    cluster, scored by the best score in it, and leave the graph. This
    repeats up to ``max_centers`` times or until no node is left. Unlike
    OICR's single best region, a lone high-scoring region cannot outweigh a
    dense group of overlapping good ones, and several instances of a class
    each get a seed. Batched over the present (image, class) pairs with a
    fixed number of steps; finding those pairs is one host-device
    synchronisation.

    Args:
        bboxes (Tensor): Region boxes, shape (B, R, 4).
        prev_scores (Tensor): Foreground region scores, shape (B, R, K),
            in [0, 1]; -1 on padded regions.
        gt_mask (Tensor): Classes present in each image, shape (B, K), bool.
        top_ratio (float): Share of each image's regions in the graph.
        iou_thr (float): IoU above which two nodes are neighbours.
        max_centers (int): Most seeds per class.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Seed region indices (B, K, M), long;
        seed scores (B, K, M); and which seeds exist (B, K, M), bool, with
        ``M = max_centers``, centres in the order they were taken.
    """
    num_imgs, num_rois, num_classes = prev_scores.shape
    max_centers = int(max_centers)
    out_inds = prev_scores.new_zeros((num_imgs, num_classes, max_centers),
                                     dtype=torch.long)
    out_scores = prev_scores.new_zeros((num_imgs, num_classes, max_centers))
    out_valid = torch.zeros_like(out_scores, dtype=torch.bool)
    # the graphs of present classes only (one host sync): most are absent
    img_inds, cls_inds = gt_mask.bool().nonzero(as_tuple=True)
    if len(img_inds) == 0:
        return out_inds, out_scores, out_valid
    num_nodes = max(1, math.ceil(top_ratio * num_rois))
    valid_rois = (prev_scores[..., 0] >= 0).sum(dim=1)  # (B, )
    per_img = (valid_rois[img_inds].float() * top_ratio).ceil().clamp(min=1)
    node_scores, node_inds = prev_scores[img_inds, :, cls_inds].topk(
        num_nodes, dim=1)  # (P, N)
    ranks = torch.arange(num_nodes, device=prev_scores.device)
    alive = (ranks < per_img[:, None]) & (node_scores >= 0)
    node_boxes = bboxes[img_inds].gather(
        1, node_inds[..., None].expand(-1, -1, 4))  # (P, N, 4)
    eye = torch.eye(num_nodes, dtype=torch.bool, device=bboxes.device)
    adj = (bbox_overlaps(node_boxes, node_boxes) > iou_thr) | eye
    # degree first, score (< 1) to break ties
    tie_break = node_scores.clamp(0, 1) * 0.5
    for m in range(max_centers):
        degree = (adj & alive[:, None, :]).sum(dim=-1).float()
        key = torch.where(alive, degree + tie_break,
                          torch.full_like(degree, -1.0))
        centre = key.argmax(dim=-1)  # (P, )
        cluster = adj[torch.arange(len(centre)), centre] & alive
        out_inds[img_inds, cls_inds, m] = node_inds.gather(
            1, centre[:, None])[:, 0]
        out_scores[img_inds, cls_inds, m] = torch.where(
            cluster, node_scores, torch.zeros_like(node_scores)).amax(dim=-1)
        out_valid[img_inds, cls_inds, m] = alive.any(dim=-1)
        alive = alive & ~cluster
    return out_inds, out_scores, out_valid


def mine_pseudo_labels_batch(bboxes: Tensor,
                             prev_scores: Tensor,
                             gt_mask: Tensor,
                             iou_thr: float = 0.5,
                             ignore_iou_thr: float = 0.0,
                             seeds: Optional[dict] = None
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
    that a GPU step launches a fixed number of kernels whatever the batch
    (graph seeds add one synchronisation, see :func:`graph_seeds`).

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
        seeds (dict, optional): How the seeds are chosen, see
            :func:`check_seeds_cfg`: ``None`` is OICR's best region per
            class; ``dict(type='graph')`` takes up to ``max_centers`` graph
            centres per class (:func:`graph_seeds`), each region then being
            matched to the seed it overlaps most among all of them, ties to
            the lower class, then to the earlier centre. Defaults to None.

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
    cfg = check_seeds_cfg(seeds)
    if cfg['type'] == 'top':
        # (B, K, 1): each class's best region in its image and its score
        seed_scores, seed_inds = prev_scores.max(dim=1)
        seed_scores, seed_inds = seed_scores[..., None], seed_inds[..., None]
        valid = present[..., None]
    else:
        seed_inds, seed_scores, valid = graph_seeds(
            bboxes, prev_scores, present, cfg['top_ratio'], cfg['iou_thr'],
            cfg['max_centers'])
    num_seeds = seed_inds.shape[-1]  # M seeds per class, class-major below
    seed_inds, seed_scores = seed_inds.flatten(1), seed_scores.flatten(1)
    seed_boxes = bboxes.gather(1, seed_inds[..., None].expand(-1, -1, 4))
    ious = bbox_overlaps(bboxes, seed_boxes)  # (B, R, K * M)
    # absent classes have no seed: below any real IoU, so never matched
    ious = ious.masked_fill(~valid.flatten(1)[:, None, :], -1.0)
    max_ious, assigned = ious.max(dim=2)  # first seed among ties
    labels = torch.where(max_ious >= iou_thr,
                         torch.div(assigned, num_seeds, rounding_mode='floor'),
                         torch.full_like(assigned, num_classes))
    weights = seed_scores.gather(1, assigned)
    keep = ((max_ious >= max(ignore_iou_thr, 0.0))
            & present.any(dim=1, keepdim=True) & (prev_scores[..., 0] >= 0))
    weights = torch.where(keep, weights, torch.zeros_like(weights))
    return labels, weights


def mine_pseudo_labels(bboxes: Tensor,
                       prev_scores: Tensor,
                       gt_labels: Tensor,
                       iou_thr: float = 0.5,
                       ignore_iou_thr: float = 0.0,
                       seeds: Optional[dict] = None) -> Tuple[Tensor, Tensor]:
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
        seeds (dict, optional): See :func:`mine_pseudo_labels_batch`.

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
                                               ignore_iou_thr, seeds)
    return labels[0], weights[0]
