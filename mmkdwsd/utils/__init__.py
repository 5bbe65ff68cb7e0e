# Copyright (c) mmkdwsd authors. All rights reserved.
from .fileio import (atomic_dump_json, atomic_dump_pickle, atomic_write_bytes,
                     atomic_write_text, read_done_marker)
from .misc import mim_path, model_num_classes, unwrap_preprocessor_cfg
from .progress import Progress
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'atomic_write_bytes', 'atomic_write_text',
    'atomic_dump_json', 'atomic_dump_pickle', 'model_num_classes',
    'unwrap_preprocessor_cfg', 'Progress', 'read_done_marker', 'mim_path'
]
