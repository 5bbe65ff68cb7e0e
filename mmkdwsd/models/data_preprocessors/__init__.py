# Copyright (c) mmkdwsd authors. All rights reserved.
from .kd_data_preprocessor import KDDataPreprocessor
from .nested import NestedDataPreprocessor
from .predecoded_data_preprocessor import PreDecodedDataPreprocessor

__all__ = [
    'KDDataPreprocessor', 'NestedDataPreprocessor',
    'PreDecodedDataPreprocessor'
]
