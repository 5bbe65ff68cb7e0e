# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import List

import torch
from torch import Tensor

from ..utils import region_sum, wsddn_region_scores


def wsddn_soft_targets(cls_logits: List[Tensor],
                       det_logits: List[Tensor],
                       cls_temperature: float = 0.5,
                       det_temperature: float = 0.5) -> Tensor:
    """Image-level soft targets of a WSDDN teacher, with temperatures.

    ``p'_k = sum_r softmax_K(M^c / t_c)_{rk} * softmax_R(M^d / t_d)_{rk}``
    (`KD-WSD <https://arxiv.org/abs/1809.05884>`_, official release:
    ``t_c = t_d = 0.5``). At ``t_c = t_d = 1`` this is WSDDN's own image
    score. Every value lies in [0, 1]: the detection softmax sums to 1 over
    the regions and the classification softmax is at most 1.

    Args:
        cls_logits (list[Tensor]): Classification-stream logits ``M^c`` per
            image, each of shape (R_i, K).
        det_logits (list[Tensor]): Detection-stream logits ``M^d`` per image,
            each of shape (R_i, K).
        cls_temperature (float): ``t_c``. Defaults to 0.5.
        det_temperature (float): ``t_d``. Defaults to 0.5.

    Returns:
        Tensor: Soft targets, shape (N, K).
    """
    num_rois = [len(logit) for logit in cls_logits]
    scores = wsddn_region_scores(
        torch.cat(list(cls_logits)), torch.cat(list(det_logits)), num_rois,
        cls_temperature, det_temperature)
    return region_sum(scores, num_rois).clamp(0., 1.)


def refined_soft_targets(region_scores: List[Tensor]) -> Tensor:
    """Image-level soft targets of an OICR teacher's refinement streams.

    ``p'_k = max_r s_{rk}``, where ``s`` is the average foreground softmax
    of the refinement streams (the region scores the refined teacher
    detects with, ``WSDDNBBoxHead.get_refined_scores``): a class is as
    present as its most confident region. The temperatures of the WSDDN
    streams' targets do not apply (``pred_distill.target_source=
    'refined'``).

    Args:
        region_scores (list[Tensor]): Refined region scores per image, each
            of shape (R_i, K), in [0, 1].

    Returns:
        Tensor: Soft targets, shape (N, K), in [0, 1].
    """
    return torch.stack([
        scores.float().amax(dim=0) for scores in region_scores
    ]).clamp(0., 1.)


def stack_soft_targets(data_samples: list, logits: Tensor) -> Tensor:
    """The cached soft targets a batch's samples carry, stacked
    (``pred_distill.soft_targets='cached'``).

    A sample may carry both views of a file cached with the flipped view
    (``tools/cache_soft_targets.py --flip``), shape (2, K): the row of the
    view the student saw is taken (row 1 where the sample's metainfo has
    ``flip=True``).

    Args:
        data_samples (list[DataSample]): Student samples, each with a
            ``soft_target`` of shape (K,) or (2, K).
        logits (Tensor): Student logits (N, K), for device and dtype.

    Returns:
        Tensor: Soft targets, shape (N, K).
    """
    missing = [i for i, s in enumerate(data_samples) if 'soft_target' not in s]
    if missing:
        raise KeyError(
            f'KDWSDDistiller: student sample(s) {missing} of this batch '
            "carry no 'soft_target', which pred_distill.soft_targets="
            "'cached' needs: compute them with tools/cache_soft_targets"
            '.py, set soft_target_file in the train dataset and pack '
            "them with mmpretrain.PackInputs(algorithm_keys=["
            "'soft_target'])")
    # torch.as_tensor would dispatch once per sample even for tensors
    targets = torch.stack([
        s.soft_target if isinstance(s.soft_target, Tensor) else
        torch.as_tensor(s.soft_target) for s in data_samples
    ])
    if targets.dim() == 3 and targets.shape[1] == 2:
        flipped = torch.tensor([bool(s.metainfo.get('flip', False))
                                for s in data_samples]).to(targets.device)
        targets = torch.where(flipped[:, None], targets[:, 1], targets[:, 0])
    if targets.shape != logits.shape:
        raise ValueError(
            f'KDWSDDistiller: cached soft targets have shape '
            f'{tuple(targets.shape)}, the student logits '
            f'{tuple(logits.shape)}')
    return targets.to(device=logits.device, dtype=torch.float32)
