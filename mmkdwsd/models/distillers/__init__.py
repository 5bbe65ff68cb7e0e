# Copyright (c) mmkdwsd authors. All rights reserved.
from .kdwsd_distiller import KDWSDDistiller
from .region_distiller import RegionDistiller

__all__ = ['KDWSDDistiller', 'RegionDistiller']
