# Copyright (c) mmkdwsd authors. All rights reserved.
import os.path as osp
from typing import Optional

from torch import nn


def mim_path(*parts: str) -> str:
    """A path inside the package's ``.mim/`` folder: the copies of
    ``configs/`` and ``tools/`` an install carries, which ``mim`` runs from
    (a source checkout's ``.mim/`` links back to its own folders).

    Args:
        *parts (str): Path parts below ``.mim/``, e.g. ``'configs'``.

    Returns:
        str: The absolute path (whether or not it exists).
    """
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    return osp.join(package, '.mim', *parts)


def model_num_classes(model: nn.Module) -> Optional[int]:
    """The first positive ``num_classes`` found in ``model``'s modules.

    A backbone's ``num_classes=-1`` (e.g. mmpretrain's VGG) means "no
    classifier" and is skipped.

    Args:
        model (nn.Module): A teacher, student or any classifier/detector.

    Returns:
        int | None: The class count, or None when no module has one.
    """
    for module in model.modules():
        value = getattr(module, 'num_classes', None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def unwrap_preprocessor_cfg(cfg: Optional[dict]) -> Optional[dict]:
    """The preprocessor config a ``PreDecodedDataPreprocessor`` wraps.

    The fast data path's wrapper only serves training batches of a
    ``PreDecodedDataset``; an exported or deployed model, or a distiller's
    view of its teacher, needs the preprocessor inside.

    Args:
        cfg (dict, optional): A ``data_preprocessor`` config.

    Returns:
        dict | None: ``cfg`` without fast-path wrappers.
    """
    while cfg is not None and str(
            cfg.get('type')).endswith('PreDecodedDataPreprocessor'):
        cfg = cfg.get('preprocessor')
    return cfg
