# Copyright (c) mmkdwsd authors. All rights reserved.
from .pseudo_labels import mine_pseudo_labels
from .wsddn_bbox_head import WSDDNBBoxHead

__all__ = ['WSDDNBBoxHead', 'mine_pseudo_labels']
