# Copyright (c) mmkdwsd authors. All rights reserved.
import math
from typing import Optional

from mmengine.hooks import Hook

from mmkdwsd.compat import find_latest_checkpoint
from mmkdwsd.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """Raised when a logged loss term is NaN or infinite."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss term.

    The message names the loss term, its value, the iteration and epoch, and
    the last checkpoint written before it, which stays untouched: this hook
    runs before :class:`CheckpointHook` (higher priority), so the diverged
    weights are never saved.

    Args:
        interval (int): Check every ``interval`` iterations. Defaults to 1.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1) -> None:
        self.interval = interval

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        values = {
            k: float(v.detach()) if hasattr(v, 'detach') else float(v)
            for k, v in outputs.items() if 'loss' in k
        }
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            return
        last = find_latest_checkpoint(runner.work_dir, warn=False)
        terms = ', '.join(f'{k}={v}' for k, v in bad.items())
        raise NonFiniteLossError(
            f'non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}): {terms}. Training stopped; the last good '
            f'checkpoint is {last or "none (no checkpoint written yet)"}. '
            'Lower the learning rate, check the inputs of that term, or '
            'resume from the checkpoint with --resume.')
