# Copyright (c) mmkdwsd authors. All rights reserved.
from .multilabel_kd_loss import MultiLabelKDLoss
from .region_feature_loss import RegionFeatureLoss
from .wsddn_soft_targets import (refined_soft_targets, stack_soft_targets,
                                 wsddn_soft_targets)

__all__ = [
    'MultiLabelKDLoss', 'RegionFeatureLoss', 'wsddn_soft_targets',
    'stack_soft_targets', 'refined_soft_targets'
]
