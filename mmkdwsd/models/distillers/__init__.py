# Copyright (c) mmkdwsd authors. All rights reserved.
from .kdwsd_distiller import KDWSDDistiller
from .region_distiller import RegionDistiller
from .teacher_setup import (freeze, kd_preprocessor_cfg, load_teacher_config,
                            load_teacher_weights, teacher_model_cfg)

__all__ = [
    'KDWSDDistiller', 'RegionDistiller', 'freeze', 'kd_preprocessor_cfg',
    'load_teacher_config', 'load_teacher_weights', 'teacher_model_cfg'
]
