# Copyright (c) mmkdwsd authors. All rights reserved.
"""mmkdwsd: multi-label image classification via knowledge distillation from
weakly-supervised detection (Liu et al., ACM MM 2018) on OpenMMLab."""
import warnings

import mmcv
import mmdet
import mmengine
import mmpretrain
from mmengine.utils import digit_version

from .compat import apply_compat_fixes
from .version import __version__, version_info

# Tested ranges; outside them we only warn (never assert an upper bound).
_TESTED = {
    'mmcv': (mmcv.__version__, '2.0.0', '2.2.0'),
    'mmengine': (mmengine.__version__, '0.10.0', '1.0.0'),
    'mmdet': (mmdet.__version__, '3.3.0', '3.4.0'),
    'mmpretrain': (mmpretrain.__version__, '1.2.0', '1.3.0'),
}
for _name, (_version, _low, _high) in _TESTED.items():
    if not digit_version(_low) <= digit_version(_version) < digit_version(
            _high):
        warnings.warn(f'mmkdwsd is tested with {_low} <= {_name} < {_high}, '
                      f'found {_name} {_version}.')

apply_compat_fixes()

__all__ = ['__version__', 'version_info', 'apply_compat_fixes']
