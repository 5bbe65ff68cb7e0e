# Copyright (c) mmkdwsd authors. All rights reserved.
from .pseudo_labels import mine_pseudo_labels, mine_pseudo_labels_batch
from .wsddn_bbox_head import WSDDNBBoxHead

__all__ = ['WSDDNBBoxHead', 'mine_pseudo_labels', 'mine_pseudo_labels_batch']
