# Copyright (c) mmkdwsd authors. All rights reserved.
"""Cached teacher soft targets: file format, loading and validation.

Prediction-level distillation needs the frozen teacher's image-level soft
targets ``p'`` (``wsddn_soft_targets``). Computing them online costs a
teacher forward (large input, hundreds of RoIs) per student step;
``tools/cache_soft_targets.py`` computes them once per image instead, on the
teacher's own test view, and a dataset with ``soft_target_file`` hands them
to the student as ``soft_target``.

A soft-target file is a pickle (``mmengine.dump``)::

    dict(meta=dict(num_classes=K, cls_temperature=t_c, det_temperature=t_d,
                   teacher_cfg=..., teacher_ckpt=..., split=...),
         targets={'<parent folder>/<image file name>': float32 (K,)})

keyed like proposal files (:func:`mmkdwsd.datasets.proposals.proposal_key`).
With ``cache_soft_targets.py --flip`` the file also holds the teacher's
targets of the horizontally flipped image: ``meta['views'] == ['original',
'hflip']`` and every value is float32 (2, K), row 1 the flipped view's, so
that a student trained with flips learns from the view it sees (the online
teacher sees the same flip as the student); the row is picked by the
sample's ``flip`` (``PreDecodedDataPreprocessor`` on the fast path,
:func:`mmkdwsd.models.losses.stack_soft_targets` otherwise).
"""
from typing import Dict, Optional

import numpy as np

from mmkdwsd.utils.fileio import load_pickle_file
from .proposals import proposal_key

soft_target_key = proposal_key
#: ``meta['views']`` of a file with the flipped view (``--flip``)
FLIP_VIEWS = ['original', 'hflip']


class SoftTargetError(ValueError):
    """Raised when a soft-target file does not match the dataset."""


def soft_target_views(meta: dict) -> int:
    """Views per image a soft-target file's ``meta`` declares: 1, or 2
    (original and horizontally flipped)."""
    views = meta.get('views')
    if views is None:
        return 1
    if list(views) != FLIP_VIEWS:
        raise SoftTargetError(
            f"Soft-target meta 'views' must be {FLIP_VIEWS} (or absent), "
            f'found {views!r}')
    return len(FLIP_VIEWS)


def load_soft_target_file(filename: str) -> dict:
    """Load and check the structure of a soft-target file.

    Args:
        filename (str): Path of the pickle.

    Returns:
        dict: ``dict(meta=dict, targets=dict[str, ndarray (K,)])``.
    """
    content = load_pickle_file(
        filename, 'Soft-target file', 'Compute it with '
        'tools/cache_soft_targets.py CONFIG or fix `soft_target_file`.',
        SoftTargetError)
    if not (isinstance(content, dict) and isinstance(
            content.get('targets'), dict) and isinstance(
                content.get('meta'), dict)):
        raise SoftTargetError(
            f'Soft-target file {filename} must hold dict(meta=dict, '
            "targets=dict('<folder>/<image name>' -> (K,) scores)); was it "
            'written by tools/cache_soft_targets.py?')
    return content


def check_soft_target(value,
                      key: str,
                      filename: str,
                      num_classes: int,
                      views: int = 1) -> np.ndarray:
    """Validate one image's soft targets.

    Args:
        value (array-like): The stored targets.
        key (str): The image's key, named in errors.
        filename (str): The file, named in errors.
        num_classes (int): Expected length K.
        views (int): Views per image the file declares (1, or 2 with the
            flipped view). Defaults to 1.

    Returns:
        np.ndarray: float32 targets inside [0, 1], shape (K,), or (2, K)
        with the flipped view.
    """
    target = np.asarray(value, dtype=np.float32)
    where = f'image {key!r} in soft-target file {filename}'
    shape = (num_classes, ) if views == 1 else (views, num_classes)
    if target.size != int(np.prod(shape)):
        raise SoftTargetError(
            f'Soft targets of {where} have {target.size} values; expected '
            f'{shape} (the dataset has {num_classes} classes, the file '
            f'{views} view(s) per image).')
    target = target.reshape(shape)
    if not np.isfinite(target).all() or target.min() < 0 \
            or target.max() > 1:
        raise SoftTargetError(
            f'Soft targets of {where} must be finite and inside [0, 1], '
            f'found {target.tolist()}.')
    return target


def attach_soft_targets(data_list: list,
                        filename: str,
                        num_classes: int,
                        content: Optional[Dict] = None) -> dict:
    """Add validated ``soft_target`` (K,) (or (2, K) for a file with the
    flipped view) to every data_info of a dataset.

    Args:
        data_list (list[dict]): Items with ``img_path`` and ``img_id``.
        filename (str): The soft-target pickle.
        num_classes (int): The dataset's class count.
        content (dict, optional): Already loaded file content.

    Returns:
        dict: The file's ``meta``.
    """
    content = content or load_soft_target_file(filename)
    meta, targets = content['meta'], content['targets']
    if meta.get('num_classes', num_classes) != num_classes:
        raise SoftTargetError(
            f'Soft-target file {filename} was computed for '
            f'{meta["num_classes"]} classes; the dataset has {num_classes}.')
    try:
        views = soft_target_views(meta)
    except SoftTargetError as err:
        raise SoftTargetError(f'{filename}: {err}') from None
    for info in data_list:
        key = soft_target_key(info['img_path'])
        if key not in targets:
            raise SoftTargetError(
                f'No soft targets for image {key!r} (img_id='
                f'{info["img_id"]}) in soft-target file {filename} '
                f'({len(targets)} images). Were they computed for this '
                'split? Re-run tools/cache_soft_targets.py.')
        info['soft_target'] = check_soft_target(targets[key], key, filename,
                                                num_classes, views)
    return meta
