# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Optional

import torch.nn as nn
from torch import Tensor

from mmkdwsd.registry import MODELS


@MODELS.register_module()
class RegionFeatureLoss(nn.Module):
    r"""Feature-level distillation loss on region features.

    Implementation of the feature-level term of `KD-WSD
    <https://arxiv.org/abs/1809.05884>`_: the student's region features are
    matched to the teacher's fc7 region features with a squared L2 distance,
    normalised as in the official release,

    .. math::

        L_f = \frac{1}{2 N R} \sum_i \sum_r w_{ir}
              \lVert f^T_{ir} - f^S_{ir} \rVert_2^2 .

    With all weights 1 and ``avg_factor=None`` this is ``1 / (2 * M)`` times
    the summed squared distance over the ``M = N * R`` regions. Weighted
    variants (regions weighted by objectness, or a top-k subset) pass weights
    that sum to ``R_i`` per image, or per-image normalised weights with
    ``avg_factor=N``.

    With ``normalize=True`` (not in the paper) the summed distance is divided
    by the teacher features' weighted energy instead,

    .. math::

        L_f = \frac{\sum_{ir} w_{ir} \lVert f^T_{ir} - f^S_{ir} \rVert_2^2}
                   {\sum_{ir} w_{ir} \lVert f^T_{ir} \rVert_2^2},

    the relative error of the student's regions: 1 for an all-zero student,
    whatever the teacher's feature width and scale, so one ``loss_weight``
    balances it against the label loss for any teacher. (On MultiDigits the
    raw loss started near 700: a raw weight of 0.01 there is a normalised
    weight of about 7.)

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        normalize (bool): Divide by the teacher's feature energy instead of
            ``2 * avg_factor``. Defaults to False (the official loss).
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 normalize: bool = False) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.normalize = normalize

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Student region features, shape (M, D).
            target (Tensor): Teacher region features, shape (M, D). No
                gradient flows into it.
            weight (Tensor, optional): Per-region weights, shape (M,).
                Defaults to None (all ones).
            avg_factor (float, optional): Normaliser; the loss is the
                weighted sum divided by ``2 * avg_factor``. Defaults to None
                (the number of regions ``M``). Unused with ``normalize``.

        Returns:
            Tensor: Scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'RegionFeatureLoss: student features '
                             f'{tuple(pred.shape)} and teacher features '
                             f'{tuple(target.shape)} differ in shape')
        # sums of squares over hundreds of regions overflow float16: float32
        target = target.detach().float()
        dist = (pred.float() - target).pow(2).sum(dim=-1)
        if weight is not None:
            dist = dist * weight.float()
        if self.normalize:
            energy = target.pow(2).sum(dim=-1)
            if weight is not None:
                energy = energy * weight.float()
            return self.loss_weight * dist.sum() / energy.sum().clamp(
                min=1e-12)
        if avg_factor is None:
            avg_factor = max(pred.size(0), 1)
        return self.loss_weight * dist.sum() / (2 * avg_factor)
