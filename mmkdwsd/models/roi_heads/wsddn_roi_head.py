# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Dict, List, Tuple

import torch
from mmdet.models.roi_heads import BaseRoIHead
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig
from torch import Tensor

from mmkdwsd.registry import MODELS
from ..utils import rois_from_boxes


@MODELS.register_module()
class WSDDNRoIHead(BaseRoIHead):
    """RoI head of `WSDDN <https://arxiv.org/abs/1511.02853>`_: pools every
    proposal, scales it by its objectness and runs :class:`WSDDNBBoxHead`.

    Proposals play the role of mmdet's ``rpn_results_list``: one
    :obj:`InstanceData` per image with ``bboxes`` (R_i, 4) in input
    coordinates and ``scores`` (R_i, ) objectness. Each pooled region feature
    is multiplied by ``score_scale * objectness + score_bias`` as in the
    official code (defaults: times the proposal score; ``score_scale=0,
    score_bias=1`` disables it). No assigner or sampler: the head is trained
    from image labels only, and only ``data_sample.gt_label`` is read.

    .. code:: text

        loss():    forward_regions() -> bbox_head.loss_by_feat()
        predict(): forward_regions() -> bbox_head.predict_by_feat()
        forward_regions(): rois_from_boxes() -> _bbox_forward()
                           -> bbox_head.get_region_scores()
                           (-> bbox_head.get_refined_scores() with OICR)
        _bbox_forward(): bbox_roi_extractor() * objectness weight
                         -> [shared_head()] -> bbox_head()

    Args:
        bbox_roi_extractor (dict): Config of the RoI extractor, e.g. mmdet
            ``SingleRoIExtractor`` over mmcv ``RoIAlign`` or ``RoIPool``.
        bbox_head (dict): Config of :class:`WSDDNBBoxHead`.
        score_scale (float): Scale of the objectness weight. Defaults to 1.0.
        score_bias (float): Bias of the objectness weight. Defaults to 0.0.
        shared_head (dict, optional): Optional module run on pooled regions
            before the bbox head. Defaults to None.
        train_cfg (dict, optional): Unused, kept for mmdet compatibility.
        test_cfg (dict, optional): ``score_thr``, ``nms``, ``max_per_img``,
            and ``region_scores``: the scores detections are ranked by,
            'refined' (the default: the refinement streams' average with
            OICR, WSDDN's region scores without) or 'wsddn' (WSDDN's
            region scores also with OICR, e.g. to evaluate a refined
            teacher's own WSDDN streams).
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 bbox_roi_extractor: ConfigType,
                 bbox_head: ConfigType,
                 score_scale: float = 1.0,
                 score_bias: float = 0.0,
                 shared_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        source = (test_cfg or {}).get('region_scores', 'refined')
        if source not in ('refined', 'wsddn'):
            raise ValueError("WSDDNRoIHead: test_cfg.region_scores must be "
                             f"'refined' or 'wsddn', got {source!r}")
        self.score_scale = score_scale
        self.score_bias = score_bias
        super().__init__(
            bbox_roi_extractor=bbox_roi_extractor,
            bbox_head=bbox_head,
            shared_head=shared_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            init_cfg=init_cfg)

    def init_bbox_head(self, bbox_roi_extractor: ConfigType,
                       bbox_head: ConfigType) -> None:
        """Build the RoI extractor and the two-stream bbox head."""
        self.bbox_roi_extractor = MODELS.build(bbox_roi_extractor)
        self.bbox_head = MODELS.build(bbox_head)

    def init_mask_head(self, *args, **kwargs) -> None:
        """WSDDN has no mask branch."""
        raise NotImplementedError('WSDDNRoIHead has no mask head.')

    def init_assigner_sampler(self) -> None:
        """No assigner or sampler: there are no box targets."""

    def _pool_regions(self, x: Tuple[Tensor], rois: Tensor,
                      objectness: Tensor) -> Tensor:
        """Pool the regions and weight them by objectness.

        Args:
            x (tuple[Tensor]): Feature maps, each (N, C, H, W).
            rois (Tensor): Regions (batch index, x1, y1, x2, y2), (R, 5).
            objectness (Tensor): Proposal scores, shape (R, ).

        Returns:
            Tensor: Pooled regions (R, C, S, S), through the shared head if
            any: the bbox head's input.
        """
        feats = x[:self.bbox_roi_extractor.num_inputs]
        if feats[0].dtype == torch.bfloat16:
            # mmcv 2.1 RoIAlign has no bfloat16 kernel.
            feats = tuple(f.float() for f in feats)
        bbox_feats = self.bbox_roi_extractor(feats, rois)
        weight = self.score_scale * objectness.float() + self.score_bias
        bbox_feats = bbox_feats * weight.to(bbox_feats.dtype).view(-1, 1, 1, 1)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        return bbox_feats

    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor,
                      objectness: Tensor) -> Tuple:
        """:meth:`_pool_regions`, then the bbox head.

        Returns:
            tuple: Outputs of :meth:`WSDDNBBoxHead.forward`.
        """
        return self.bbox_head(self._pool_regions(x, rois, objectness))

    def _forward_batch(self, x: Tuple[Tensor],
                       rpn_results_list: InstanceList) -> Tuple[list, Tuple]:
        """Run :meth:`_bbox_forward` on all proposals of a batch.

        Returns:
            tuple: Boxes per image (R_i, 4) and the bbox head outputs.
        """
        bboxes, rois, objectness = self._batch_regions(rpn_results_list)
        return bboxes, self._bbox_forward(x, rois, objectness)

    @staticmethod
    def _batch_regions(
            rpn_results_list: InstanceList) -> Tuple[list, Tensor, Tensor]:
        """Boxes per image (R_i, 4), RoIs (R, 5) and objectness (R, )."""
        bboxes = [get_box_tensor(r.bboxes) for r in rpn_results_list]
        objectness = torch.cat([r.scores for r in rpn_results_list])
        return bboxes, rois_from_boxes(bboxes), objectness

    def forward_regions(self, x: Tuple[Tensor],
                        rpn_results_list: InstanceList) -> Dict[str, list]:
        """Region-level outputs of a batch, split per image.

        Args:
            x (tuple[Tensor]): Feature maps, each (N, C, H, W).
            rpn_results_list (list[:obj:`InstanceData`]): Proposals per image
                (``bboxes`` (R_i, 4), ``scores`` (R_i, )), all non-empty.

        Returns:
            dict: ``img_scores`` (N, K) and per-image lists ``cls_logits``
            (R_i, K), ``det_logits`` (R_i, K), ``region_feats`` (R_i, D),
            ``proposals`` (R_i, 4), ``proposal_scores`` (R_i, ),
            ``region_scores`` (R_i, K) (refined average with OICR), plus
            ``refine_logits``: per stream, (R, K + 1) over the whole batch.
        """
        bboxes, (cls_logits, det_logits, refine_logits,
                 region_feats) = self._forward_batch(x, rpn_results_list)
        num_rois = [len(b) for b in bboxes]
        region_scores, img_scores = self.bbox_head.get_region_scores(
            cls_logits, det_logits, num_rois)
        if self.bbox_head.with_refine:
            region_scores = self.bbox_head.get_refined_scores(
                refine_logits, num_rois)
        return dict(
            img_scores=img_scores,
            cls_logits=list(cls_logits.split(num_rois)),
            det_logits=list(det_logits.split(num_rois)),
            region_feats=list(region_feats.split(num_rois)),
            proposals=bboxes,
            proposal_scores=[r.scores for r in rpn_results_list],
            region_scores=region_scores,
            refine_logits=refine_logits)

    def forward_region_feats(
            self, x: Tuple[Tensor],
            rpn_results_list: InstanceList) -> Dict[str, list]:
        """The fc7 features of the given regions alone (no streams): what
        the feature level needs, for the regions it uses.

        Args:
            x (tuple[Tensor]): Feature maps, each (N, C, H, W).
            rpn_results_list (list[:obj:`InstanceData`]): Regions per image
                (``bboxes`` (R_i, 4), ``scores`` (R_i, )), all non-empty.

        Returns:
            dict: Per-image lists ``region_feats`` (R_i, D), ``proposals``
            (R_i, 4) and ``proposal_scores`` (R_i, ), equal to those of
            :meth:`forward_regions` for the same regions.
        """
        bboxes, rois, objectness = self._batch_regions(rpn_results_list)
        region_feats = self.bbox_head.forward_feats(
            self._pool_regions(x, rois, objectness))
        return dict(
            region_feats=list(region_feats.split([len(b) for b in bboxes])),
            proposals=bboxes,
            proposal_scores=[r.scores for r in rpn_results_list])

    def forward(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList = None) -> Tuple:
        """Network forward without post-processing (``tensor`` mode).

        Returns:
            tuple: ``cls_logits`` (R, K), ``det_logits`` (R, K),
            ``region_feats`` (R, D), then one (R, K + 1) tensor per refinement
            stream, R summed over the batch.
        """
        _, (cls_logits, det_logits, refine_logits,
            region_feats) = self._forward_batch(x, rpn_results_list)
        return (cls_logits, det_logits, region_feats, *refine_logits)

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Image-level losses; reads ``gt_label`` only, never a box.

        Args:
            x (tuple[Tensor]): Feature maps, each (N, C, H, W).
            rpn_results_list (list[:obj:`InstanceData`]): Proposals per image.
            batch_data_samples (list[:obj:`DetDataSample`]): With
                ``gt_label`` (present class indices).

        Returns:
            dict[str, Tensor]: ``loss_wsddn`` (and ``loss_refine{k}``).
        """
        gt_labels = self.get_gt_labels(batch_data_samples)
        bboxes, (cls_logits, det_logits, refine_logits,
                 _) = self._forward_batch(x, rpn_results_list)
        return self.bbox_head.loss_by_feat(cls_logits, det_logits,
                                           refine_logits, bboxes, gt_labels)

    def predict(self,
                x: Tuple[Tensor],
                rpn_results_list: InstanceList,
                batch_data_samples: SampleList,
                rescale: bool = False) -> InstanceList:
        """Detections per image after per-class NMS.

        Returns:
            list[:obj:`InstanceData`]: ``bboxes``, ``scores``, ``labels``.
        """
        regions = self.forward_regions(x, rpn_results_list)
        return self.bbox_head.predict_by_feat(
            self.detection_scores(regions), regions['proposals'],
            [s.metainfo for s in batch_data_samples], self.test_cfg, rescale)

    def detection_scores(self, regions: dict) -> List[Tensor]:
        """The region scores detections are ranked by, as
        ``test_cfg.region_scores`` names them.

        Args:
            regions (dict): :meth:`forward_regions`' output.

        Returns:
            list[Tensor]: One (R_i, K) tensor per image.
        """
        if ((self.test_cfg or {}).get('region_scores', 'refined') == 'refined'
                or not self.bbox_head.with_refine):
            return regions['region_scores']
        num_rois = [len(c) for c in regions['cls_logits']]
        return self.bbox_head.get_region_scores(
            torch.cat(regions['cls_logits']),
            torch.cat(regions['det_logits']), num_rois)[0]

    def get_gt_labels(self, batch_data_samples: SampleList) -> List[Tensor]:
        """Image labels of a batch, checked against the class range.

        Args:
            batch_data_samples (list[:obj:`DetDataSample`]): With ``gt_label``.

        Returns:
            list[Tensor]: Present class indices per image, each (P_i, ).
        """
        num_classes = self.bbox_head.num_classes

        def name(i):
            path = batch_data_samples[i].metainfo.get('img_path', '?')
            return f'image {i} ({path})'

        gt_labels = []
        for i, sample in enumerate(batch_data_samples):
            if 'gt_label' not in sample:
                raise KeyError(f'{name(i)} has no `gt_label` (image labels); '
                               'pack it with PackWSODInputs.')
            labels = sample.gt_label
            if not isinstance(labels, Tensor):
                labels = torch.as_tensor(labels)
            if labels.dtype != torch.long:  # no call (dispatch) if it is
                labels = labels.long()
            gt_labels.append(labels if labels.dim() == 1 else labels.
                             reshape(-1))
        # One range check (one host sync) per batch, not one per image.
        flat = torch.cat(gt_labels) if gt_labels else None
        if flat is not None and bool(
                ((flat < 0) | (flat >= num_classes)).any()):
            for i, labels in enumerate(gt_labels):
                bad = (labels < 0) | (labels >= num_classes)
                if bad.any():
                    raise ValueError(
                        f'{name(i)} has labels {labels[bad].tolist()} '
                        f'outside [0, {num_classes - 1}] '
                        f'(num_classes={num_classes}).')
        return gt_labels
