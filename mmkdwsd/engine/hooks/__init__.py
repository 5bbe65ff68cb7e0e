# Copyright (c) mmkdwsd authors. All rights reserved.
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook

__all__ = ['NonFiniteLossHook', 'NonFiniteLossError']
