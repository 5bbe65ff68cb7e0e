# Copyright (c) mmkdwsd authors. All rights reserved.
__all__ = []
