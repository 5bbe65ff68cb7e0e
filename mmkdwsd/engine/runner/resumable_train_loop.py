# Copyright (c) mmkdwsd authors. All rights reserved.
import random
from typing import Iterator

import numpy as np
import torch
from mmengine.runner import EpochBasedTrainLoop

from mmkdwsd.registry import LOOPS


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """Epoch-based training loop that resumes exactly in the middle of an
    epoch.

    MMEngine's ``EpochBasedTrainLoop`` restarts an epoch from its first batch
    when resumed from an iteration checkpoint, and the random state of the
    resumed process differs from the interrupted one. This loop

    - skips the batches of the current epoch that the checkpoint already
      trained on (in the sampler, without loading their images where the
      dataloader runs in the main process), and
    - reseeds ``random``, ``numpy`` and ``torch`` before every iteration from
      ``(seed, iteration)``, so data augmentation in the main process and
      dropout depend on the iteration only, not on the process history.

    With ``num_workers=0`` and deterministic settings, a run killed mid-epoch
    and resumed with ``--resume`` ends with the same weights as an
    uninterrupted run. With worker processes the sample order is still
    restored; the workers' own augmentation streams are not. Save iteration
    checkpoints with ``CheckpointHook(by_epoch=False, interval=N)``.

    Args:
        reseed_every_iter (bool): Reseed the RNGs before every iteration.
            Defaults to True.
        **kwargs: Arguments of :class:`mmengine.runner.EpochBasedTrainLoop`.
    """

    def __init__(self, *args, reseed_every_iter: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.reseed_every_iter = reseed_every_iter

    def run_epoch(self) -> None:
        """Iterate one epoch, from the first batch not yet trained."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        num_batches = len(self.dataloader)
        done = self._iter - self._epoch * num_batches
        if not 0 <= done < num_batches:
            raise RuntimeError(
                f'cannot resume at iteration {self._iter} of epoch '
                f'{self._epoch + 1}: an epoch has {num_batches} batches now. '
                'Did the dataset or batch size change since the checkpoint?')
        batches = iter(self.dataloader)
        self._skip(batches, done)
        for idx in range(done, num_batches):
            self._reseed()
            self.run_iter(idx, next(batches))
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _reseed(self) -> None:
        if not self.reseed_every_iter:
            return
        base = self.runner.seed if self.runner.seed is not None else 0
        seed = (base * 1_000_003 + self._iter) % 2**32
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    @staticmethod
    def _skip(batches: Iterator, num: int) -> None:
        """Advance a dataloader iterator by ``num`` batches."""
        # A single-process iterator can advance its sampler alone
        # (`_next_index`), so skipped images are never loaded; a
        # multi-process one has already queued indices: fetch and drop.
        next_index = getattr(batches, '_next_index', None)
        single = getattr(batches, '_num_workers', 1) == 0
        for _ in range(num):
            if single and next_index is not None:
                next_index()
            else:
                next(batches)
