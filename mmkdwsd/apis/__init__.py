# Copyright (c) mmkdwsd authors. All rights reserved.
from .export import export_student

__all__ = ['export_student']
