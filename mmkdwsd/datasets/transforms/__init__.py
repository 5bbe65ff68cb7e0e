# Copyright (c) mmkdwsd authors. All rights reserved.
from .formatting import PackWSODInputs
from .loading import ImageReadError, LoadImageSafe

__all__ = ['PackWSODInputs', 'LoadImageSafe', 'ImageReadError']
