# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Any, Sequence

import torch
from mmengine.dataset import pseudo_collate

from mmkdwsd.registry import FUNCTIONS


def _stack_if_same_shape(images: Any) -> Any:
    """One (N, C, H, W) tensor for a list of equally sized images, else the
    list unchanged."""
    if (isinstance(images, list) and images
            and all(isinstance(x, torch.Tensor) for x in images)
            and all(x.shape == images[0].shape for x in images)):
        return torch.stack(images)
    return images


@FUNCTIONS.register_module()
def stack_collate(data_batch: Sequence) -> Any:
    """``pseudo_collate``, then stack each image list whose images share one
    shape (per branch for ``mmdet.MultiBranch`` items).

    A DataLoader worker hands every tensor of a batch to the main process
    separately (shared memory, one file descriptor each); with batches of 64
    two-view items that hand-over, not the transforms, bounded the loading
    rate. One stacked tensor per branch instead of 64 images made the
    MultiDigits distillation loader about 1.8x faster (docs/benchmarks.md).
    Data samples stay lists, as with ``pseudo_collate``; batches of
    differently sized images (keep-ratio resizing, multi-scale teachers)
    stay lists too, and the data preprocessors (mmdet's, mmpretrain's,
    :class:`KDDataPreprocessor`) accept both forms.

    Args:
        data_batch (Sequence): Items of the dataset.

    Returns:
        Any: The collated batch; ``inputs`` a tensor of shape (N, C, H, W)
        (or a dict of them, one per branch) where the sizes agree.
    """
    data = pseudo_collate(data_batch)
    if not isinstance(data, dict) or 'inputs' not in data:
        return data
    inputs = data['inputs']
    if isinstance(inputs, dict):
        data['inputs'] = {
            key: _stack_if_same_shape(value)
            for key, value in inputs.items()
        }
    else:
        data['inputs'] = _stack_if_same_shape(inputs)
    return data
