# Copyright (c) mmkdwsd authors. All rights reserved.
from .export import export_student
from .soft_targets import cache_soft_targets, check_soft_target_file

__all__ = [
    'export_student', 'cache_soft_targets', 'check_soft_target_file'
]
