# Copyright (c) mmkdwsd authors. All rights reserved.
from .class_check_hook import ClassCheckHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook

__all__ = ['ClassCheckHook', 'NonFiniteLossHook', 'NonFiniteLossError']
