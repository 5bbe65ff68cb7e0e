# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Sequence

import numpy as np
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmdet.structures.bbox import BaseBoxes

from mmkdwsd.registry import TRANSFORMS


def _as_long(value) -> torch.Tensor:
    """Class indices (array, list, tensor or None) as a 1-D LongTensor."""
    if value is None:
        return torch.zeros(0, dtype=torch.long)
    return torch.as_tensor(np.asarray(value), dtype=torch.long).reshape(-1)


@TRANSFORMS.register_module()
class PackWSODInputs(PackDetInputs):
    """Pack the teacher (weakly-supervised detection) view.

    On top of mmdet's ``PackDetInputs`` (image, ``proposals`` with their
    ``scores`` as an ``InstanceData``, ``gt_instances`` when the evaluation
    pipeline loaded boxes), it sets the image labels on the
    ``DetDataSample``:

    - ``gt_label``: LongTensor ``(num_pos,)`` of positive class indices;
    - ``gt_label_ignore``: LongTensor ``(num_ignore,)`` of classes ignored in
      evaluation (VOC difficult-only classes; usually empty).

    Proposals are in the coordinates of the packed image (``img_shape``);
    ``scale_factor``, ``flip`` and ``flip_direction`` are kept in the
    metainfo so they can be mapped to another view of the same image.

    Args:
        meta_keys (Sequence[str]): Meta keys to keep. Defaults to mmdet's
            plus ``'img_id'``-style keys needed to map views.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_id', 'img_path', 'ori_shape',
                                    'img_shape', 'scale_factor', 'flip',
                                    'flip_direction')
    ) -> None:
        super().__init__(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack image, proposals, labels and metainfo.

        Args:
            results (dict): Result dict of the pipeline.

        Returns:
            dict: ``inputs`` (uint8 tensor ``(3, H, W)``) and
            ``data_samples`` (:obj:`DetDataSample`).
        """
        if isinstance(results.get('proposals'), BaseBoxes):
            results['proposals'] = results['proposals'].numpy()
        if 'proposals' in results and 'proposals_scores' not in results:
            results['proposals_scores'] = np.ones(
                len(results['proposals']), dtype=np.float32)
        packed = super().transform(results)
        data_sample = packed['data_samples']
        data_sample.gt_label = _as_long(results.get('gt_label'))
        data_sample.gt_label_ignore = _as_long(results.get('gt_label_ignore'))
        return packed
