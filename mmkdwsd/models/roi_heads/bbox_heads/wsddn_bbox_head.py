# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.ops import batched_nms
from mmdet.models.utils import empty_instances
from mmdet.structures.bbox import bbox_flip, get_box_tensor, scale_boxes
from mmdet.utils import InstanceList, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule, Sequential
from mmengine.structures import InstanceData
from torch import Tensor

from mmkdwsd.registry import MODELS
from ...utils import multi_hot, pad_regions, region_sum, wsddn_region_scores
from .pseudo_labels import check_seeds_cfg, mine_pseudo_labels_batch


@MODELS.register_module()
class WSDDNBBoxHead(BaseModule):
    """Two-stream region head of `WSDDN <https://arxiv.org/abs/1511.02853>`_
    with optional refinement streams of `OICR
    <https://arxiv.org/abs/1704.00138>`_.

    fc6 -> fc7 (ReLU, dropout) run on every pooled region. On fc7, the
    classification stream ``fc_cls`` gives logits M^c (softmax over classes)
    and the detection stream ``fc_det`` gives logits M^d (softmax over the
    regions of each image, per class). Region scores are
    ``x_rk = softmax_K(M^c)_rk * softmax_R(M^d)_rk`` and image scores
    ``y_k = sum_r x_rk``, clamped to ``[clamp_eps, 1 - clamp_eps]`` and trained
    with binary cross-entropy (summed over classes, averaged over images) on
    the image labels. The official Caffe code clamps at 1e-4; the default
    1e-6 keeps more ranking resolution in the image scores (they are also the
    multi-label predictions) and is safe because all of this runs in fp32,
    also under fp16/bf16 autocast.

    Each refinement stream ``k`` is a (K+1)-way classifier on fc7 (background
    is the last index ``K``, as in mmdet) trained with pseudo-labels mined from
    stream ``k - 1`` (stream 0 is WSDDN's region scores), see
    :func:`mine_pseudo_labels_batch` (the whole batch at once). At test time
    with ``num_refine > 0`` the final region scores are the average of the
    refined streams' foreground softmax (WSDDN's own region scores are left
    out, as in OICR); the image scores are always WSDDN's ``y``.

    .. code:: text

        loss():    forward() -> loss_by_feat()
                                  -> get_region_scores() -> BCE
                                  -> mine_pseudo_labels_batch() -> weighted CE
        predict(): forward() -> get_region_scores() / get_refined_scores()
                             -> predict_by_feat() -> _predict_by_feat_single()

    Args:
        num_classes (int): Number of foreground classes K.
        in_channels (int): Channels of the pooled region features.
            Defaults to 512.
        roi_feat_size (int): Spatial size of the pooled region features.
            Defaults to 7.
        fc_out_channels (int): Width of fc6 and fc7. Defaults to 4096.
        dropout (float): Dropout after fc6 and fc7. Defaults to 0.5.
        num_refine (int): Number of OICR refinement streams; 0 is plain WSDDN
            as in the paper, 3 is OICR. Defaults to 0.
        clamp_eps (float): Image scores are clamped to
            ``[clamp_eps, 1 - clamp_eps]``. Defaults to 1e-6.
        refine_iou_thr (float): IoU with a seed at which a region takes the
            seed's class. Defaults to 0.5.
        refine_ignore_iou_thr (float): Regions below this IoU with every
            seed are ignored. Defaults to 0.0.
        refine_seeds (dict, optional): How each stream picks its seeds from
            the previous one: None is OICR's best region per class,
            ``dict(type='graph', top_ratio=0.15, iou_thr=0.4,
            max_centers=5)`` PCL's graph centres (see
            :func:`check_seeds_cfg`). Defaults to None.
        refine_grad_scale (float): Factor on the gradient the refinement
            losses send into fc7 and everything below it (fc6, RoIAlign's
            input, the backbone), in ``[0, 1]``: 1 is OICR (the refinement
            reshapes the features WSDDN's streams see), 0 trains the
            refinement streams on fixed features, so WSDDN's streams learn
            as in plain WSDDN. The streams' own weights always get the
            full gradient. Defaults to 1.0.
        loss_wsddn_weight (float): Weight of the image-level BCE.
            Defaults to 1.0.
        loss_refine_weight (float): Weight of each refinement loss.
            Defaults to 1.0.
        fcs_init_cfg (dict, optional): Init config of fc6/fc7 alone, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix=
            'backbone.classifier.')`` to load mmpretrain VGG's ImageNet fc6
            (index 0) and fc7 (index 3). Defaults to None.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 512,
        roi_feat_size: int = 7,
        fc_out_channels: int = 4096,
        dropout: float = 0.5,
        num_refine: int = 0,
        clamp_eps: float = 1e-6,
        refine_iou_thr: float = 0.5,
        refine_ignore_iou_thr: float = 0.0,
        refine_seeds: OptConfigType = None,
        refine_grad_scale: float = 1.0,
        loss_wsddn_weight: float = 1.0,
        loss_refine_weight: float = 1.0,
        fcs_init_cfg: OptMultiConfig = None,
        init_cfg: OptMultiConfig = [
            dict(
                type='Normal',
                std=0.01,
                override=[
                    dict(name='fc_cls'),
                    dict(name='fc_det'),
                    dict(name='fc_refine')
                ]),
            dict(
                type='Xavier',
                distribution='uniform',
                override=dict(name='shared_fcs'))
        ]
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        assert num_classes > 0 and num_refine >= 0
        assert 0 < clamp_eps < 0.5
        if not 0.0 <= refine_grad_scale <= 1.0:
            raise ValueError('WSDDNBBoxHead: refine_grad_scale must be in '
                             f'[0, 1], got {refine_grad_scale!r}')
        self.num_classes = num_classes
        self.num_refine = num_refine
        self.clamp_eps = clamp_eps
        self.refine_iou_thr = refine_iou_thr
        self.refine_ignore_iou_thr = refine_ignore_iou_thr
        self.refine_seeds = check_seeds_cfg(refine_seeds)
        self.refine_grad_scale = refine_grad_scale
        self.loss_wsddn_weight = loss_wsddn_weight
        self.loss_refine_weight = loss_refine_weight
        # Same layer indices as mmpretrain VGG's `classifier` (fc6 = 0,
        # fc7 = 3), so its ImageNet weights load with a key prefix.
        self.shared_fcs = Sequential(
            nn.Linear(in_channels * roi_feat_size**2, fc_out_channels),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(fc_out_channels, fc_out_channels),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            init_cfg=fcs_init_cfg)
        self.fc_cls = nn.Linear(fc_out_channels, num_classes)
        self.fc_det = nn.Linear(fc_out_channels, num_classes)
        self.fc_refine = nn.ModuleList([
            nn.Linear(fc_out_channels, num_classes + 1)
            for _ in range(num_refine)
        ])

    @property
    def with_refine(self) -> bool:
        """bool: Whether the head has OICR refinement streams."""
        return self.num_refine > 0

    def forward_feats(self, x: Tensor) -> Tensor:
        """fc6/fc7 alone: the region features (R, D) of pooled regions
        (R, C, S, S), without the streams."""
        return self.shared_fcs(x.flatten(1))

    def forward(self,
                x: Tensor) -> Tuple[Tensor, Tensor, List[Tensor], Tensor]:
        """Run fc6/fc7 and all streams on the pooled regions of a batch.

        Args:
            x (Tensor): Pooled region features of all images, shape
                (R, C, S, S).

        Returns:
            tuple:

            - cls_logits (Tensor): Classification stream M^c, shape (R, K).
            - det_logits (Tensor): Detection stream M^d, shape (R, K).
            - refine_logits (list[Tensor]): One (R, K + 1) tensor per
              refinement stream (empty list if ``num_refine == 0``).
            - region_feats (Tensor): fc7 features, shape (R, D).
        """
        region_feats = self.forward_feats(x)
        refine_in = region_feats
        if self.with_refine and self.refine_grad_scale < 1.0:
            # same values, gradient scaled by refine_grad_scale
            refine_in = region_feats.detach()
            if self.refine_grad_scale > 0.0:
                refine_in = refine_in + self.refine_grad_scale * (
                    region_feats - refine_in)
        refine_logits = [fc(refine_in) for fc in self.fc_refine]
        return (self.fc_cls(region_feats), self.fc_det(region_feats),
                refine_logits, region_feats)

    def get_region_scores(
            self, cls_logits: Tensor, det_logits: Tensor,
            num_rois: Sequence[int]) -> Tuple[List[Tensor], Tensor]:
        """WSDDN region scores and image scores, in fp32.

        Args:
            cls_logits (Tensor): Shape (R, K), all images concatenated.
            det_logits (Tensor): Shape (R, K), all images concatenated.
            num_rois (Sequence[int]): Regions per image, summing to R.

        Returns:
            tuple[list[Tensor], Tensor]: Region scores, one (R_i, K) tensor
            per image (each column sums to at most 1), and image scores
            of shape (N, K) clamped inside (0, 1).
        """
        region_scores = wsddn_region_scores(cls_logits, det_logits, num_rois)
        img_scores = region_sum(region_scores, num_rois).clamp(
            self.clamp_eps, 1 - self.clamp_eps)
        return list(region_scores.split(list(num_rois))), img_scores

    def get_refined_scores(self, refine_logits: List[Tensor],
                           num_rois: Sequence[int]) -> List[Tensor]:
        """Average foreground softmax of the refinement streams, in fp32.

        Args:
            refine_logits (list[Tensor]): One (R, K + 1) tensor per stream.
            num_rois (Sequence[int]): Regions per image, summing to R.

        Returns:
            list[Tensor]: One (R_i, K) tensor per image.
        """
        probs = torch.stack(
            [F.softmax(logits.float(), dim=1) for logits in refine_logits])
        return list(
            probs.mean(dim=0)[:, :self.num_classes].split(list(num_rois)))

    def loss_by_feat(self, cls_logits: Tensor, det_logits: Tensor,
                     refine_logits: List[Tensor], bboxes_list: List[Tensor],
                     gt_labels_list: List[Tensor]) -> Dict[str, Tensor]:
        """Image-level BCE of WSDDN plus the OICR refinement losses.

        Args:
            cls_logits (Tensor): Shape (R, K).
            det_logits (Tensor): Shape (R, K).
            refine_logits (list[Tensor]): One (R, K + 1) tensor per stream.
            bboxes_list (list[Tensor]): Region boxes per image, (R_i, 4).
            gt_labels_list (list[Tensor]): Present class indices per image.

        Returns:
            dict[str, Tensor]: ``loss_wsddn`` and ``loss_refine{k}`` for
            k = 1..num_refine.
        """
        num_rois = [len(b) for b in bboxes_list]
        region_scores, img_scores = self.get_region_scores(
            cls_logits, det_logits, num_rois)
        targets = multi_hot(gt_labels_list, img_scores)
        # Written out (not F.binary_cross_entropy), which autocast forbids.
        bce = -(
            targets * img_scores.log() + (1 - targets) *
            (1 - img_scores).log())
        losses = dict(loss_wsddn=self.loss_wsddn_weight * bce.sum(1).mean())
        if not refine_logits:
            return losses
        # the batch's regions padded to (N, R_max, ...): one mining and one
        # cross-entropy per stream for the whole batch
        boxes = pad_regions(torch.cat(list(bboxes_list)), num_rois)
        prev_scores = torch.cat(region_scores).detach()
        for k, logits in enumerate(refine_logits):
            losses[f'loss_refine{k + 1}'] = self.loss_refine_weight * \
                self._loss_refine_single(logits, prev_scores, boxes,
                                         targets > 0, num_rois)
            prev_scores = F.softmax(logits.detach().float(),
                                    dim=1)[:, :self.num_classes]
        return losses

    def _loss_refine_single(self, logits: Tensor, prev_scores: Tensor,
                            boxes: Tensor, gt_mask: Tensor,
                            num_rois: Sequence[int]) -> Tensor:
        """Weighted cross-entropy of one refinement stream.

        Args:
            logits (Tensor): Stream logits, shape (R, K + 1).
            prev_scores (Tensor): Previous stream's foreground scores,
                shape (R, K).
            boxes (Tensor): Region boxes padded per image, (N, R_max, 4).
            gt_mask (Tensor): Present classes per image, (N, K) bool.
            num_rois (Sequence[int]): Regions per image, summing to R.

        Returns:
            Tensor: Scalar loss: per image the mean over its regions of the
            weighted CE, averaged over images.
        """
        scores = pad_regions(prev_scores, num_rois, -1.0)  # (N, R_max, K)
        labels, weights = mine_pseudo_labels_batch(boxes, scores, gt_mask,
                                                   self.refine_iou_thr,
                                                   self.refine_ignore_iou_thr,
                                                   self.refine_seeds)
        ce = F.cross_entropy(
            pad_regions(logits.float(), num_rois).flatten(0, 1),
            labels.flatten(),
            reduction='none').view_as(weights)
        counts = (scores[..., 0] >= 0).sum(dim=1).clamp(min=1)
        return ((weights * ce).sum(dim=1) / counts).mean()

    def predict_by_feat(self,
                        region_scores: List[Tensor],
                        bboxes_list: List[Tensor],
                        batch_img_metas: List[dict],
                        rcnn_test_cfg: OptConfigType,
                        rescale: bool = True) -> InstanceList:
        """Per-class NMS over the region scores of each image.

        Args:
            region_scores (list[Tensor]): (R_i, K) per image.
            bboxes_list (list[Tensor]): (R_i, 4) per image, input coordinates.
            batch_img_metas (list[dict]): Meta information of each image.
            rcnn_test_cfg (dict, optional): ``score_thr``, ``nms`` (mmcv
                ``batched_nms`` config, or None to skip NMS) and
                ``max_per_img``.
            rescale (bool): Map boxes back to the original image (undoing
                flip and resize). Defaults to True.

        Returns:
            list[:obj:`InstanceData`]: Per image ``bboxes`` (n, 4),
            ``scores`` (n, ) and ``labels`` (n, ), highest scores first.
        """
        return [
            self._predict_by_feat_single(scores, bboxes, img_meta,
                                         rcnn_test_cfg, rescale)
            for scores, bboxes, img_meta in zip(region_scores, bboxes_list,
                                                batch_img_metas)
        ]

    def _predict_by_feat_single(self, scores: Tensor, bboxes: Tensor,
                                img_meta: dict, rcnn_test_cfg: OptConfigType,
                                rescale: bool) -> InstanceData:
        """Per-class NMS for one image; see :meth:`predict_by_feat`."""
        rcnn_test_cfg = rcnn_test_cfg or dict()
        bboxes = self._map_to_image(bboxes.float(), img_meta, rescale)
        num_rois, num_classes = scores.shape
        scores = scores.float().reshape(-1)
        labels = torch.arange(
            num_classes, device=scores.device).repeat(num_rois)
        roi_inds = torch.arange(
            num_rois, device=scores.device).repeat_interleave(num_classes)
        valid = scores > rcnn_test_cfg.get('score_thr', 0.0)
        scores, labels, roi_inds = scores[valid], labels[valid], roi_inds[
            valid]
        if not valid.any():
            # mmcv's batched_nms fails on no boxes: nothing above score_thr
            return empty_instances([img_meta], scores.device, 'bbox')[0]
        dets, keep = batched_nms(bboxes[roi_inds], scores, labels,
                                 rcnn_test_cfg.get('nms', None))
        max_per_img = rcnn_test_cfg.get('max_per_img', -1)
        if max_per_img > 0:
            dets, keep = dets[:max_per_img], keep[:max_per_img]
        results = InstanceData()
        results.bboxes = dets[:, :4]
        results.scores = dets[:, -1]
        results.labels = labels[keep]
        return results

    @staticmethod
    def _map_to_image(bboxes: Tensor, img_meta: dict, rescale: bool) -> Tensor:
        """Boxes from input coordinates to the original image (if rescale),
        undoing flip then resize, clipped to the image.

        Args:
            bboxes (Tensor): Shape (R, 4), input coordinates.
            img_meta (dict): Needs ``img_shape``; with rescale also
                ``scale_factor``, ``ori_shape`` and optionally ``flip`` /
                ``flip_direction``.
            rescale (bool): Whether to map to the original image.

        Returns:
            Tensor: Shape (R, 4).
        """
        bboxes = get_box_tensor(bboxes)
        shape = img_meta['img_shape']
        if rescale:
            if img_meta.get('flip', False):
                bboxes = bbox_flip(
                    bboxes, shape, img_meta.get('flip_direction',
                                                'horizontal'))
            scale_factor = img_meta.get('scale_factor', (1.0, 1.0))
            bboxes = scale_boxes(bboxes, [1 / s for s in scale_factor])
            shape = img_meta['ori_shape']
        bboxes = bboxes.clone()
        bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, shape[1])
        bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, shape[0])
        return bboxes
