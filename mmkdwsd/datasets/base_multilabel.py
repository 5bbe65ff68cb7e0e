# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Iterable, List, Optional

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs

from .proposals import attach_proposals
from .soft_targets import attach_soft_targets


def make_label(indices: Iterable[int]) -> np.ndarray:
    """Sorted unique class indices as an int64 array, shape (num_pos,)."""
    return np.unique(np.asarray(list(indices), dtype=np.int64))


class BaseMultiLabelDataset(BaseDataset):
    """Base of the multi-label datasets (COCO-format, NUS-WIDE, VOC).

    Subclasses implement :meth:`load_items`; this class checks the labels,
    attaches proposals and filters images without labels. Every item follows
    the ``data_info`` contract of ``docs/design.md``: ``img_path``,
    ``img_id``, ``height``, ``width``, ``gt_label`` (int64, sorted unique),
    ``gt_label_ignore`` (int64), ``instances`` (true boxes, evaluation only)
    and, with ``proposal_file``, ``proposals``.

    Args:
        ann_file (str): Annotation file. Defaults to ''.
        proposal_file (str, optional): Proposal pickle (see
            :mod:`mmkdwsd.datasets.proposals`), relative to ``data_root``
            unless absolute. Defaults to None.
        proposal_tolerance (float): Pixels a proposal may reach beyond the
            image before it is an error. Defaults to 2.0.
        allow_empty_proposals (bool): Accept images without proposals
            instead of raising. Defaults to False.
        filter_empty (bool): Drop images without positive labels.
            Defaults to False (kept with an empty label set).
        soft_target_file (str, optional): Cached teacher soft targets (see
            :mod:`mmkdwsd.datasets.soft_targets`), relative to ``data_root``
            unless absolute. Defaults to None.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 ann_file: str = '',
                 proposal_file: Optional[str] = None,
                 proposal_tolerance: float = 2.0,
                 allow_empty_proposals: bool = False,
                 filter_empty: bool = False,
                 soft_target_file: Optional[str] = None,
                 **kwargs) -> None:
        self.proposal_file = proposal_file
        self.soft_target_file = soft_target_file
        self.proposal_tolerance = proposal_tolerance
        self.allow_empty_proposals = allow_empty_proposals
        self.filter_empty = filter_empty
        super().__init__(ann_file=ann_file, **kwargs)

    def _join_prefix(self) -> None:
        """Join ``data_root`` with the annotation, image and proposal paths."""
        super()._join_prefix()
        for attr in ('proposal_file', 'soft_target_file'):
            path = getattr(self, attr)
            if path and not is_abs(path) and self.data_root:
                setattr(self, attr, join_path(self.data_root, path))

    def load_items(self) -> List[dict]:
        """Parse the annotations into ``data_info`` dicts (no proposals).

        Returns:
            list[dict]: One ``data_info`` per image.
        """
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        """Load items, check their labels, attach proposals and cached
        soft targets.

        Returns:
            list[dict]: One ``data_info`` per image.
        """
        data_list = self.load_items()
        self._check_labels(data_list)
        if self.proposal_file:
            attach_proposals(data_list, self.proposal_file,
                             self.proposal_tolerance,
                             self.allow_empty_proposals)
        if self.soft_target_file:
            meta = attach_soft_targets(data_list, self.soft_target_file,
                                       len(self._metainfo['classes']))
            print_log(
                f'{type(self).__name__}: cached soft targets from '
                f'{self.soft_target_file} ({meta})',
                logger='current')
        return data_list

    def _check_labels(self, data_list: List[dict]) -> None:
        """Raise if a label is outside ``[0, num_classes)``."""
        num_classes = len(self._metainfo['classes'])
        for info in data_list:
            for key in ('gt_label', 'gt_label_ignore'):
                label = info[key]
                if len(label) and (label.min() < 0
                                   or label.max() >= num_classes):
                    raise ValueError(
                        f'{key} {label.tolist()} of image {info["img_path"]} '
                        f'(img_id={info["img_id"]}) in {self.ann_file} is '
                        f'outside [0, {num_classes}).')

    def filter_data(self) -> List[dict]:
        """Drop images without positive labels when ``filter_empty``.

        Returns:
            list[dict]: The kept items.
        """
        if not self.filter_empty:
            return self.data_list
        kept = [info for info in self.data_list if len(info['gt_label'])]
        print_log(
            f'{type(self).__name__}: dropped {len(self.data_list) - len(kept)}'
            f' of {len(self.data_list)} images without labels '
            '(filter_empty=True).',
            logger='current')
        return kept

    def get_cat_ids(self, idx: int) -> List[int]:
        """Positive class indices of image ``idx`` (for class-aware
        samplers).

        Args:
            idx (int): Item index.

        Returns:
            list[int]: Class indices.
        """
        return self.get_data_info(idx)['gt_label'].tolist()
