# Copyright (c) mmkdwsd authors. All rights reserved.
from .bbox_heads import WSDDNBBoxHead, mine_pseudo_labels
from .wsddn_roi_head import WSDDNRoIHead

__all__ = ['WSDDNRoIHead', 'WSDDNBBoxHead', 'mine_pseudo_labels']
