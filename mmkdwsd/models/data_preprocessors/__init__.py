# Copyright (c) mmkdwsd authors. All rights reserved.
from .kd_data_preprocessor import KDDataPreprocessor

__all__ = ['KDDataPreprocessor']
