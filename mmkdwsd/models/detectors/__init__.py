# Copyright (c) mmkdwsd authors. All rights reserved.
from .wsddn import WSDDN

__all__ = ['WSDDN']
