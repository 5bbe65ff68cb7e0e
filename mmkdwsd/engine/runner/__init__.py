# Copyright (c) mmkdwsd authors. All rights reserved.
from .resumable_train_loop import ResumableEpochBasedTrainLoop

__all__ = ['ResumableEpochBasedTrainLoop']
