# Copyright (c) mmkdwsd authors. All rights reserved.
from .multilabel_paper_metric import (MultiLabelPaperMetric, average_precision,
                                      multilabel_paper_scores)
from .wsod_metric import WSODMetric

__all__ = [
    'MultiLabelPaperMetric', 'WSODMetric', 'average_precision',
    'multilabel_paper_scores'
]
