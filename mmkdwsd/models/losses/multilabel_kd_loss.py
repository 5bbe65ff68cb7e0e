# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmkdwsd.registry import MODELS


@MODELS.register_module()
class MultiLabelKDLoss(nn.Module):
    """Prediction-level distillation loss for multi-label classification.

    Implementation of the prediction-level term of `KD-WSD
    <https://arxiv.org/abs/1809.05884>`_: a binary cross-entropy between the
    student's soft prediction ``sigmoid(a * z)`` and the teacher's soft
    targets ``p'`` (per class, Bernoulli), averaged over the batch and summed
    over classes like the supervised multi-label loss,

    .. math::

        L_p = -\\frac{1}{N} \\sum_i \\sum_k p'_{ik} \\log \\sigma(a_k z_{ik})
              + (1 - p'_{ik}) \\log (1 - \\sigma(a_k z_{ik})).

    The learnable scale ``a`` lives in the distiller; this loss takes the
    already scaled logits.

    Args:
        loss_weight (float): Weight of the loss (``lambda``). Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self,
                pred: Tensor,
                target: Tensor,
                avg_factor: Optional[float] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Scaled student logits ``a * z``, shape (N, K).
            target (Tensor): Teacher soft targets in [0, 1], shape (N, K).
                No gradient flows into it.
            avg_factor (float, optional): Normaliser. Defaults to None (the
                batch size ``N``).

        Returns:
            Tensor: Scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'MultiLabelKDLoss: student logits '
                             f'{tuple(pred.shape)} and teacher targets '
                             f'{tuple(target.shape)} differ in shape')
        loss = F.binary_cross_entropy_with_logits(
            pred, target.detach().to(pred.dtype), reduction='sum')
        if avg_factor is None:
            avg_factor = max(pred.size(0), 1)
        return self.loss_weight * loss / avg_factor
