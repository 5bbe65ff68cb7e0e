# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Dict, Tuple

import torch
from mmdet.models.detectors import BaseDetector
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import ConfigType, InstanceList, OptConfigType, OptMultiConfig
from mmengine.structures import InstanceData
from torch import Tensor

from mmkdwsd.registry import MODELS


def _as_float(tensor: Tensor) -> Tensor:
    """``tensor.float()``, skipping the call (one dispatch per image on
    the GPU's host path) when it is float32 already."""
    return tensor if tensor.dtype == torch.float32 else tensor.float()


@MODELS.register_module()
class WSDDN(BaseDetector):
    """Implementation of `WSDDN <https://arxiv.org/abs/1511.02853>`_, the
    weakly-supervised detector used as teacher, with optional `OICR
    <https://arxiv.org/abs/1704.00138>`_ refinement (``num_refine`` of the
    bbox head).

    No RPN: the proposals come with the data (``data_sample.proposals``, an
    :obj:`InstanceData` with ``bboxes`` (R_i, 4) in input coordinates and
    ``scores`` (R_i, ) objectness; missing scores count as 1). Training reads
    ``data_sample.gt_label`` (image labels) only, never a box.

    .. code:: text

        loss():            extract_feat() -> get_proposals()
                           -> roi_head.loss()
        predict():         predict_regions()
                           -> roi_head.bbox_head.predict_by_feat()
                           -> pred_instances, pred_score
        predict_regions(): extract_feat() -> get_proposals()
                           -> roi_head.forward_regions()
        _forward():        extract_feat() -> get_proposals()
                           -> roi_head.forward()

    Args:
        backbone (dict): Backbone config (mmdet or mmpretrain, with scope).
        roi_head (dict): Config of :class:`WSDDNRoIHead`.
        neck (dict, optional): Neck config. Defaults to None.
        train_cfg (dict, optional): Passed to the RoI head. Defaults to None.
        test_cfg (dict, optional): Passed to the RoI head: ``score_thr``,
            ``nms`` and ``max_per_img`` of the per-class NMS.
        data_preprocessor (dict, optional): E.g. ``mmdet.DetDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    #: Keys returned by :meth:`predict_regions` (docs/design.md).
    REGION_KEYS = ('img_scores', 'cls_logits', 'det_logits', 'region_feats',
                   'proposals', 'proposal_scores', 'region_scores')

    def __init__(self,
                 backbone: ConfigType,
                 roi_head: ConfigType,
                 neck: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        roi_head = roi_head.copy()
        if train_cfg is not None:
            roi_head.update(train_cfg=train_cfg)
        if test_cfg is not None:
            roi_head.update(test_cfg=test_cfg)
        self.roi_head = MODELS.build(roi_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor]:
        """Backbone (and neck) features.

        Args:
            batch_inputs (Tensor): Images, shape (N, 3, H, W).

        Returns:
            tuple[Tensor]: Feature maps, each (N, C, H', W').
        """
        x = self.backbone(batch_inputs)
        if self.with_neck:
            x = self.neck(x)
        return x

    def get_proposals(self, batch_data_samples: SampleList) -> InstanceList:
        """The proposals of each image, checked.

        Args:
            batch_data_samples (list[:obj:`DetDataSample`]): With
                ``proposals``.

        Returns:
            list[:obj:`InstanceData`]: ``bboxes`` (R_i, 4) and ``scores``
            (R_i, ) float tensors per image.
        """
        proposals = []
        for i, sample in enumerate(batch_data_samples):
            name = f'image {i} ({sample.metainfo.get("img_path", "?")})'
            if 'proposals' not in sample:
                raise KeyError(f'{name} has no `proposals`: WSDDN needs '
                               'proposals from the data (set proposal_file '
                               'and load them with mmdet.LoadProposals).')
            bboxes = _as_float(get_box_tensor(sample.proposals.bboxes))
            if bboxes.dim() != 2 or bboxes.size(1) != 4:
                raise ValueError(f'{name}: proposals must have shape (R, 4), '
                                 f'got {tuple(bboxes.shape)}.')
            if bboxes.size(0) == 0:
                raise ValueError(f'{name} has no proposals; WSDDN needs at '
                                 'least one region per image.')
            scores = sample.proposals.get('scores', None)
            scores = bboxes.new_ones(len(bboxes)) if scores is None \
                else _as_float(scores)
            if scores.dim() != 1:
                scores = scores.reshape(-1)
            if scores.numel() != len(bboxes):
                raise ValueError(f'{name}: {scores.numel()} proposal scores '
                                 f'for {len(bboxes)} boxes.')
            proposals.append(InstanceData(bboxes=bboxes, scores=scores))
        return proposals

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Image-level losses (reads proposals and ``gt_label`` only).

        Args:
            batch_inputs (Tensor): Images, shape (N, 3, H, W).
            batch_data_samples (list[:obj:`DetDataSample`]): With
                ``proposals`` and ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss_wsddn`` (and ``loss_refine{k}``).
        """
        proposals = self.get_proposals(batch_data_samples)
        x = self.extract_feat(batch_inputs)
        return self.roi_head.loss(x, proposals, batch_data_samples)

    def predict_regions(self, inputs: Tensor,
                        data_samples: SampleList) -> Dict:
        """Region-level outputs for the distiller (docs/design.md).

        A plain method: the caller decides on ``torch.no_grad()`` and
        ``eval()``.

        Args:
            inputs (Tensor): Images, shape (N, 3, H, W).
            data_samples (list[:obj:`DetDataSample`]): With
                ``proposals``.

        Returns:
            dict: ``img_scores`` (N, K) in (0, 1); per-image lists of
            ``cls_logits`` (R_i, K) (M^c), ``det_logits`` (R_i, K) (M^d),
            ``region_feats`` (R_i, D) (fc7), ``proposals`` (R_i, 4) (input
            coordinates), ``proposal_scores`` (R_i, ) and ``region_scores``
            (R_i, K) (average of the refined streams when OICR is on).
        """
        proposals = self.get_proposals(data_samples)
        x = self.extract_feat(inputs)
        regions = self.roi_head.forward_regions(x, proposals)
        return {key: regions[key] for key in self.REGION_KEYS}

    def predict_region_feats(self, inputs: Tensor,
                             proposals: InstanceList) -> Dict:
        """fc7 features of the given regions only, without the streams:
        what the feature level alone needs, for the regions it draws (a
        plain method, like :meth:`predict_regions`).

        Args:
            inputs (Tensor): Images, shape (N, 3, H, W).
            proposals (list[:obj:`InstanceData`]): Regions per image, as
                :meth:`get_proposals` returns them or a subset of them.

        Returns:
            dict: Per-image lists ``region_feats`` (R_i, D), ``proposals``
            (R_i, 4) and ``proposal_scores`` (R_i, ), equal to those of
            :meth:`predict_regions` for the same regions.
        """
        return self.roi_head.forward_region_feats(
            self.extract_feat(inputs), proposals)

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detections and image scores.

        Args:
            batch_inputs (Tensor): Images, shape (N, 3, H, W).
            batch_data_samples (list[:obj:`DetDataSample`]): With
                ``proposals``.
            rescale (bool): Boxes in original-image coordinates.
                Defaults to True.

        Returns:
            list[:obj:`DetDataSample`]: With ``pred_instances`` (``bboxes``
            (n, 4), ``scores`` (n, ), ``labels`` (n, ), per-class NMS) and
            ``pred_score`` (K, ) image scores.
        """
        regions = self.predict_regions(batch_inputs, batch_data_samples)
        results_list = self.roi_head.bbox_head.predict_by_feat(
            self.roi_head.detection_scores(regions), regions['proposals'],
            [s.metainfo for s in batch_data_samples], self.roi_head.test_cfg,
            rescale)
        for sample, results, img_score in zip(batch_data_samples, results_list,
                                              regions['img_scores']):
            sample.pred_instances = results
            sample.pred_score = img_score
        return batch_data_samples

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: SampleList = None) -> Tuple[Tensor]:
        """Raw network outputs (``tensor`` mode).

        Returns:
            tuple[Tensor]: ``cls_logits`` (R, K), ``det_logits`` (R, K),
            ``region_feats`` (R, D) and the (R, K + 1) refinement logits.
        """
        if batch_data_samples is None:
            raise ValueError('WSDDN needs data samples with proposals.')
        proposals = self.get_proposals(batch_data_samples)
        return self.roi_head.forward(
            self.extract_feat(batch_inputs), proposals, batch_data_samples)
