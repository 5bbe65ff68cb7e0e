# Copyright (c) mmkdwsd authors. All rights reserved.
from .pseudo_labels import (graph_seeds, mine_pseudo_labels,
                            mine_pseudo_labels_batch)
from .wsddn_bbox_head import WSDDNBBoxHead

__all__ = [
    'WSDDNBBoxHead', 'graph_seeds', 'mine_pseudo_labels',
    'mine_pseudo_labels_batch'
]
