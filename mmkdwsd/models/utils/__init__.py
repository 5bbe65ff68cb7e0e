# Copyright (c) mmkdwsd authors. All rights reserved.
from .region_ops import (multi_hot, pad_regions, region_softmax, region_sum,
                         rois_from_boxes, same_region_count, stacked_view,
                         wsddn_region_scores)
from .separable_roi_align import separable_roi_align

__all__ = [
    'rois_from_boxes', 'region_softmax', 'region_sum', 'same_region_count',
    'stacked_view', 'multi_hot', 'pad_regions', 'wsddn_region_scores',
    'separable_roi_align'
]
