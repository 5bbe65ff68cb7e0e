# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.ops import roi_align
from mmdet.utils import ConfigType, InstanceList, OptMultiConfig
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor

from mmkdwsd.registry import MODELS
from ..utils import (rois_from_boxes, same_region_count, separable_roi_align,
                     stacked_view)


@MODELS.register_module()
class RegionDistiller(BaseModule):
    """Feature-level distillation on the teacher's regions.

    Part of `KD-WSD <https://arxiv.org/abs/1809.05884>`_, owned by
    :class:`KDWSDDistiller` and trained with it, never exported: the student
    RoI-pools the teacher's proposals (rescaled to the student's input) from
    one of its feature maps (the last, or the distiller's ``student_layer``)
    with mmcv ``RoIAlign``, a projection (flatten + MLP)
    maps each pooled region to the teacher's fc7 dimension, and
    ``RegionFeatureLoss`` matches them to the teacher's fc7 features.

    Region selection:

    - ``'all'`` (official release): every region, weighted by the
      proposal's objectness if ``objectness_weight`` (weights normalised to
      mean 1 per image, so constant objectness is the official
      ``1 / (2 N R)`` average);
    - ``'topk'`` (paper figure): per image, the teacher's ``topk``
      highest-scoring regions of each present class (the image's labels, or
      the teacher's top class when there are none), weight 1.

    ``num_sampled`` draws that many of the selected regions per image at
    random each step, which bounds the cost (an unbiased estimate of the
    average). In ``'all'`` mode, when the images have the same number of
    regions, the whole batch is selected at once (one draw,
    :meth:`sample_batched`, or every region), so a step launches a few
    kernels instead of a few per image.

    Args:
        in_channels (int): Channels of the student feature map pooled from.
        out_channels (int): The teacher's fc7 dimension ``D``.
        hidden_channels (Sequence[int]): Hidden sizes of the MLP.
            Defaults to (512, ).
        roi_size (int): RoIAlign output size. Defaults to 4.
        sampling_ratio (int): RoIAlign sampling ratio. Defaults to 2.
        roi_op (str): How the regions are pooled: ``'mmcv'`` (mmcv's
            ``RoIAlign``) or ``'separable'`` (the same RoIAlign as two
            batched matrix products, :func:`separable_roi_align`: bfloat16
            under autocast, no atomic additions in the backward) where the
            images have the same number of regions, mmcv's otherwise.
            Defaults to 'mmcv'.
        regions (str): ``'all'`` or ``'topk'``. Defaults to 'all'.
        topk (int): Regions per class in ``'topk'`` mode. Defaults to 4.
        objectness_weight (bool): Weight regions by objectness in ``'all'``
            mode. Defaults to True.
        num_sampled (int, optional): Regions drawn per image per step.
            Defaults to None (all selected).
        out_act (bool): ReLU after the last layer (fc7 is post-ReLU).
            Defaults to False.
        loss (dict): Loss config. Defaults to ``RegionFeatureLoss``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    .. code:: text

        forward(): select_regions() -> gather()           -> pool_rois()
                   (or [sample_batched()] -> gather_batched())
                   -> projector -> loss
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 hidden_channels: Sequence[int] = (512, ),
                 roi_size: int = 4,
                 sampling_ratio: int = 2,
                 roi_op: str = 'mmcv',
                 regions: str = 'all',
                 topk: int = 4,
                 objectness_weight: bool = True,
                 num_sampled: Optional[int] = None,
                 out_act: bool = False,
                 loss: ConfigType = dict(type='RegionFeatureLoss'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if regions not in ('all', 'topk'):
            raise ValueError(f"RegionDistiller: regions must be 'all' or "
                             f"'topk', got {regions!r}")
        if roi_op not in ('mmcv', 'separable'):
            raise ValueError(f"RegionDistiller: roi_op must be 'mmcv' or "
                             f"'separable', got {roi_op!r}")
        if roi_op == 'separable' and sampling_ratio <= 0:
            raise ValueError("RegionDistiller: roi_op='separable' needs a "
                             f'fixed sampling_ratio > 0, got {sampling_ratio}')
        self.roi_op = roi_op
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.roi_size = roi_size
        self.sampling_ratio = sampling_ratio
        self.regions = regions
        self.topk = topk
        self.objectness_weight = objectness_weight
        self.num_sampled = num_sampled
        layers: List[nn.Module] = [nn.Flatten()]
        channels = in_channels * roi_size * roi_size
        for hidden in hidden_channels:
            layers += [nn.Linear(channels, hidden), nn.ReLU(inplace=True)]
            channels = hidden
        layers.append(nn.Linear(channels, out_channels))
        if out_act:
            layers.append(nn.ReLU(inplace=True))
        self.projector = nn.Sequential(*layers)
        self.loss_feat = MODELS.build(loss)

    def select_regions(
            self, teacher_out: dict,
            labels: Sequence[Optional[Tensor]]) -> List[Tuple[Tensor, Tensor]]:
        """Indices and weights of the distilled regions, per image.

        Args:
            teacher_out (dict): Teacher outputs (``proposal_scores`` (R_i,),
                ``region_scores`` (R_i, K), ``img_scores`` (N, K)).
            labels (list[Tensor | None]): Image labels (num_pos,) per image.

        Returns:
            list[tuple[Tensor, Tensor]]: Per image, indices (M_i,) into its
            regions and weights (M_i,) with mean 1.
        """
        selected = []
        for i, objectness in enumerate(teacher_out['proposal_scores']):
            num_regions = objectness.size(0)
            if self.regions == 'all':
                index = torch.arange(num_regions, device=objectness.device)
            else:
                region_scores = teacher_out['region_scores'][i]
                classes = labels[i]
                if classes is None or classes.numel() == 0:
                    classes = teacher_out['img_scores'][i].argmax()[None]
                k = min(self.topk, num_regions)
                index = region_scores[:, classes.long()].topk(
                    k, dim=0).indices.flatten().unique()
            if self.samples(index.numel()):
                keep = torch.randperm(
                    index.numel(), device=index.device)[:self.num_sampled]
                index = index[keep]
            if self.regions == 'all':
                weight = self.objectness_weights(objectness[index])
            else:
                weight = torch.ones_like(index, dtype=torch.float)
            selected.append((index, weight))
        return selected

    def objectness_weights(self, objectness: Tensor) -> Tensor:
        """Weights of selected regions: their objectness with mean 1 per
        image (ones where an image's objectness is all zero, or without
        ``objectness_weight``).

        Args:
            objectness (Tensor): Scores of the selected regions, (M, ) for
                one image or (N, M) for a batch.

        Returns:
            Tensor: float32 weights of the same shape.
        """
        if not self.objectness_weight:
            return torch.ones(objectness.shape, device=objectness.device)
        weight = objectness.float().clamp(min=0)
        # No Python branch on a device value: it would make the host wait
        # for the GPU.
        mean = weight.mean(-1, keepdim=True)
        return torch.where(mean > 0, weight / mean.clamp(min=1e-12),
                           torch.ones_like(weight))

    def sample_batched(self, objectness: Tensor) -> Tuple[Tensor, Tensor]:
        """``num_sampled`` random regions per image and their weights, for
        a batch whose images have the same number of regions: one draw for
        the batch instead of one ``randperm`` per image.

        Args:
            objectness (Tensor): Proposal scores, shape (N, R).

        Returns:
            tuple[Tensor, Tensor]: Indices (N, S) into each image's regions,
            distinct per row, and weights (N, S) with mean 1 per row.
        """
        index = self._draw_batched(objectness)
        return index, self.objectness_weights(objectness.gather(1, index))

    def _draw_batched(self, objectness: Tensor) -> Tensor:
        """(N, S) distinct random indices per row of (N, R) scores."""
        return torch.rand(
            objectness.shape, device=objectness.device).topk(
                self.num_sampled, dim=1).indices

    def draw_proposals(self,
                       proposals: InstanceList) -> Optional[InstanceList]:
        """Draw the regions of this step before the teacher runs.

        In ``'all'`` mode with ``num_sampled``, which regions are distilled
        depends on the proposals alone (their number and, for the weights,
        their own scores), so the teacher can compute the features of the
        drawn regions only (:meth:`WSDDN.predict_region_feats`): in the
        paper setting 128 of 500 regions through fc6 / fc7. The draw is
        :meth:`forward`'s (one random subset of ``num_sampled`` per image
        holding more), and :meth:`forward` then keeps every region it is
        given and weights them by their scores as it would have.

        Args:
            proposals (list[:obj:`InstanceData`]): ``bboxes`` (R_i, 4) and
                ``scores`` (R_i, ) per image.

        Returns:
            list[:obj:`InstanceData`] | None: At most ``num_sampled``
            regions per image; None when this distiller draws nothing here
            (``'topk'`` mode needs the teacher's scores; no
            ``num_sampled``; no image with more regions than that).
        """
        counts = [len(p) for p in proposals]
        if self.regions != 'all' or not any(map(self.samples, counts)):
            return None
        if same_region_count(counts):  # one draw for the batch
            scores = torch.stack([p.scores for p in proposals])
            index = self._draw_batched(scores)
            boxes = torch.stack([p.bboxes for p in proposals]).gather(
                1, index[..., None].expand(-1, -1, 4))
            return [
                InstanceData(bboxes=b, scores=sc) for b, sc in zip(
                    boxes.unbind(), scores.gather(1, index).unbind())
            ]
        drawn = []
        for p in proposals:
            if self.samples(len(p)):
                keep = torch.randperm(len(p), device=p.scores.device)
                p = p[keep[:self.num_sampled]]
            drawn.append(p)
        return drawn

    def batched(self, teacher_out: dict) -> bool:
        """Whether this batch is selected as a whole (:meth:`gather_batched`):
        ``'all'`` regions, every image with the same number of them (the
        usual fixed proposal count)."""
        return self.regions == 'all' and same_region_count(
            [len(p) for p in teacher_out['proposals']])

    def samples(self, num_regions: int) -> bool:
        """Whether a step draws ``num_sampled`` of ``num_regions``."""
        return self.num_sampled is not None and num_regions > self.num_sampled

    @staticmethod
    def gather(selected: Sequence[Tuple[Tensor, Tensor]], teacher_out: dict,
               factors: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """RoIs, teacher features and weights of per-image selections.

        Args:
            selected (list[tuple[Tensor, Tensor]]): :meth:`select_regions`.
            teacher_out (dict): ``proposals`` and ``region_feats`` per image.
            factors (Tensor): (N, 4) teacher-to-student box factors.

        Returns:
            tuple[Tensor, Tensor, Tensor]: RoIs (M, 5) in student-input
            pixels, targets (M, D), weights (M, ).
        """
        boxes, targets, weights = [], [], []
        for (index, weight), proposals, feats, factor in zip(
                selected, teacher_out['proposals'],
                teacher_out['region_feats'], factors):
            boxes.append(proposals[index] * factor)
            targets.append(feats[index])
            weights.append(weight)
        return rois_from_boxes(boxes), torch.cat(targets), torch.cat(weights)

    @staticmethod
    def gather_batched(index: Optional[Tensor], weight: Tensor,
                       teacher_out: dict,
                       factors: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """:meth:`gather` for the same S regions per image: a few kernels per
        batch (instead of about 19 per image; plus one per image when
        sampled from features that are not views of one tensor).

        Args:
            index (Tensor, optional): (N, S) region indices per image; None
                for all R regions (S = R).
            weight (Tensor): (N, S) weights.
            teacher_out (dict): ``proposals`` (R, 4) and ``region_feats``
                (R, D) per image, R the same for all.
            factors (Tensor): (N, 4) teacher-to-student box factors.

        Returns:
            tuple[Tensor, Tensor, Tensor]: RoIs (N * S, 5), targets
            (N * S, D), weights (N * S, ), image by image.
        """
        boxes = torch.stack(teacher_out['proposals'])
        # The teacher's features are one (N * R, D) tensor split per image:
        # use it in place. Stacking them would copy all N x R x D (262 MB in
        # the paper setting).
        feats = stacked_view(teacher_out['region_feats'])
        if index is None:
            targets = feats.flatten(0, 1) if feats is not None else \
                torch.cat(teacher_out['region_feats'])
        else:
            boxes = boxes.gather(1, index[..., None].expand(-1, -1, 4))
            if feats is not None:
                targets = feats.flatten(0, 1)[(index + torch.arange(
                    0, feats.size(0) * feats.size(1), feats.size(1),
                    device=index.device)[:, None]).flatten()]
            else:
                targets = torch.cat([
                    image_feats[rows] for image_feats, rows in zip(
                        teacher_out['region_feats'], index)
                ])
        rois = rois_from_boxes(boxes * factors[:, None])
        return rois, targets, weight.flatten()

    def pool(self, feat_map: Tensor, student_inputs: Tensor,
             boxes: List[Tensor]) -> Tensor:
        """RoIAlign the student's feature map on student-input boxes.

        Args:
            feat_map (Tensor): Shape (N, C, h', w').
            student_inputs (Tensor): Shape (N, 3, h, w), for the stride.
            boxes (list[Tensor]): Per image (M_i, 4), student-input pixels.

        Returns:
            Tensor: Pooled regions, shape (sum M_i, C, roi_size, roi_size).
        """
        return self.pool_rois(feat_map, student_inputs,
                              rois_from_boxes(boxes))

    def pool_rois(self,
                  feat_map: Tensor,
                  student_inputs: Tensor,
                  rois: Tensor,
                  per_image: Optional[int] = None) -> Tensor:
        """:meth:`pool` on RoIs (M, 5): image index, x1, y1, x2, y2;
        ``per_image``: the same number of RoIs per image, image by image
        (what ``roi_op='separable'`` needs), else None."""
        spatial_scale = feat_map.size(-1) / student_inputs.size(-1)
        if self.roi_op == 'separable' and per_image:
            return separable_roi_align(
                feat_map, rois[:, 1:].reshape(-1, per_image, 4),
                self.roi_size, spatial_scale, self.sampling_ratio, True)
        # mmcv's RoIAlign has no bfloat16 kernel: pool in float32.
        return roi_align(feat_map.float(), rois.float(), self.roi_size,
                         spatial_scale, self.sampling_ratio, 'avg', True)

    def forward(self, feat_map: Tensor, student_inputs: Tensor,
                teacher_out: dict, scales: Sequence[Tuple[float, float]],
                labels: Sequence[Optional[Tensor]]) -> Tensor:
        """Compute the feature-level loss.

        Args:
            feat_map (Tensor): The student feature map pooled from
                (N, C, h', w').
            student_inputs (Tensor): Student view (N, 3, h, w).
            teacher_out (dict): Teacher outputs with ``proposals`` (R_i, 4)
                in teacher-input pixels and ``region_feats`` (R_i, D).
            scales (list[tuple[float, float]]): (x, y) teacher-to-student
                coordinate ratios per image.
            labels (list[Tensor | None]): Image labels per image.

        Returns:
            Tensor: Scalar loss.
        """
        if feat_map.size(1) != self.in_channels:
            raise ValueError(f'RegionDistiller: in_channels is '
                             f'{self.in_channels} but the student feature '
                             f'map has {feat_map.size(1)} channels')
        # (N, 4) x, y, x, y factors, copied to the device once per step
        factors = feat_map.new_tensor(
            scales, dtype=torch.float32).reshape(-1, 2).repeat(1, 2)
        if self.batched(teacher_out):
            objectness = torch.stack(teacher_out['proposal_scores'])
            if self.samples(objectness.size(1)):
                index, weight = self.sample_batched(objectness)
            else:
                index, weight = None, self.objectness_weights(objectness)
            rois, target, weight = self.gather_batched(
                index, weight, teacher_out, factors)
            per_image = weight.size(0) // feat_map.size(0)
        else:
            rois, target, weight = self.gather(
                self.select_regions(teacher_out, labels), teacher_out,
                factors)
            per_image = None
        if target.size(1) != self.out_channels:
            raise ValueError(f'RegionDistiller: out_channels is '
                             f'{self.out_channels} but the teacher region '
                             f'features have {target.size(1)} dims')
        pred = self.projector(
            self.pool_rois(feat_map, student_inputs, rois, per_image))
        return self.loss_feat(
            pred,
            target.to(pred.dtype),
            weight.to(pred.dtype),
            avg_factor=max(target.size(0), 1))
