# Copyright (c) mmkdwsd authors. All rights reserved.
from .region_ops import (multi_hot, region_softmax, region_sum,
                         rois_from_boxes, same_region_count, stacked_view,
                         wsddn_region_scores)

__all__ = [
    'rois_from_boxes', 'region_softmax', 'region_sum', 'same_region_count',
    'stacked_view', 'multi_hot', 'wsddn_region_scores'
]
