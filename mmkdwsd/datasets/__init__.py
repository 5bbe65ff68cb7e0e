# Copyright (c) mmkdwsd authors. All rights reserved.
from .base_multilabel import BaseMultiLabelDataset
from .coco_multilabel import CocoMultiLabelDataset
from .collate import stack_collate
from .nuswide import NUSWideDataset
from .predecoded import (PreDecodedCacheError, PreDecodedDataset,
                         predecoded_collate)
from .proposals import (ProposalError, attach_proposals, check_proposals,
                        load_proposal_file, proposal_key)
from .soft_targets import (SoftTargetError, attach_soft_targets,
                           load_soft_target_file)
from .transforms import *  # noqa: F401,F403
from .voc_multilabel import VOCMultiLabelDataset

__all__ = [
    'BaseMultiLabelDataset', 'CocoMultiLabelDataset', 'NUSWideDataset',
    'VOCMultiLabelDataset', 'ProposalError', 'attach_proposals',
    'check_proposals', 'load_proposal_file', 'proposal_key',
    'SoftTargetError', 'attach_soft_targets', 'load_soft_target_file',
    'stack_collate', 'PreDecodedDataset', 'PreDecodedCacheError',
    'predecoded_collate'
]
