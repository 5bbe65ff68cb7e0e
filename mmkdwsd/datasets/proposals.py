# Copyright (c) mmkdwsd authors. All rights reserved.
"""Proposal files: keys, loading and validation.

A proposal file is a pickle (``mmengine.dump``) of a dict keyed like mmdet's
``BaseDetDataset.load_proposals``: ``'<parent folder>/<image file name>'``
-> ``dict(bboxes=float32 (n, 4) xyxy original-image pixels,
scores=float32 (n,))``, rows sorted by score, descending.
"""
import os.path as osp
from typing import Dict, Optional

import numpy as np

from mmkdwsd.utils.fileio import load_pickle_file


class ProposalError(ValueError):
    """Raised when a proposal file does not match the dataset's images."""


def proposal_key(img_path: str) -> str:
    """Key of an image in a proposal file.

    Args:
        img_path (str): Image path.

    Returns:
        str: ``'<parent folder>/<file name>'``, as mmdet builds it.
    """
    folder, name = osp.split(img_path)
    return osp.join(osp.basename(folder), name)


def load_proposal_file(proposal_file: str) -> Dict[str, dict]:
    """Load a proposal file.

    Args:
        proposal_file (str): Path of the pickle.

    Returns:
        dict[str, dict]: Proposals keyed by :func:`proposal_key`.
    """
    proposals = load_pickle_file(
        proposal_file, 'Proposal file', 'Generate it with '
        'tools/generate_proposals.py or fix `proposal_file`.', ProposalError)
    if not isinstance(proposals, dict):
        raise ProposalError(
            f'Proposal file {proposal_file} must hold a dict keyed by '
            f"'<folder>/<image name>', found {type(proposals).__name__}.")
    return proposals


def check_proposals(item: dict,
                    key: str,
                    proposal_file: str,
                    height: int,
                    width: int,
                    tolerance: float = 2.0,
                    allow_empty: bool = False) -> dict:
    """Validate the proposals of one image and cast them to float32.

    Args:
        item (dict): ``dict(bboxes, scores)`` from the proposal file.
        key (str): The image's key, named in errors.
        proposal_file (str): The file, named in errors.
        height (int): Image height in pixels.
        width (int): Image width in pixels.
        tolerance (float): Pixels a box may reach beyond the image.
            Defaults to 2.0.
        allow_empty (bool): Accept an image with zero proposals.
            Defaults to False.

    Returns:
        dict: ``dict(bboxes=float32 (n, 4), scores=float32 (n,))``.
    """
    where = f'image {key!r} in proposal file {proposal_file}'
    if not isinstance(item, dict) or 'bboxes' not in item:
        raise ProposalError(f'Proposals of {where} must be a dict with '
                            "'bboxes' and 'scores'.")
    bboxes = np.asarray(item['bboxes'], dtype=np.float32)
    if bboxes.size == 0:
        bboxes = bboxes.reshape(0, 4)
    if bboxes.ndim != 2 or bboxes.shape[1] != 4:
        raise ProposalError(f'Proposals of {where} must have shape (n, 4), '
                            f'found {tuple(bboxes.shape)}.')
    scores = item.get('scores')
    scores = np.ones(len(bboxes), np.float32) if scores is None \
        else np.asarray(scores, dtype=np.float32).reshape(-1)
    if len(scores) != len(bboxes):
        raise ProposalError(f'Proposals of {where}: {len(bboxes)} boxes but '
                            f'{len(scores)} scores.')
    if len(bboxes) == 0 and not allow_empty:
        raise ProposalError(f'No proposals for {where}. Regenerate them, or '
                            'set allow_empty_proposals=True in the dataset.')
    _check_bounds(bboxes, where, height, width, tolerance)
    return dict(bboxes=bboxes, scores=scores)


def _check_bounds(bboxes: np.ndarray, where: str, height: int, width: int,
                  tolerance: float) -> None:
    """Raise if a box is not finite, inverted or outside the image."""
    if len(bboxes) == 0:
        return
    bad = ~np.isfinite(bboxes).all(axis=1)
    bad |= (bboxes[:, 2] < bboxes[:, 0]) | (bboxes[:, 3] < bboxes[:, 1])
    bad |= (bboxes[:, :2] < -tolerance).any(axis=1)
    bad |= bboxes[:, 2] > width + tolerance
    bad |= bboxes[:, 3] > height + tolerance
    if bad.any():
        first = int(np.nonzero(bad)[0][0])
        raise ProposalError(
            f'{int(bad.sum())} proposal(s) of {where} are invalid or outside '
            f'the image (width {width}, height {height}, tolerance '
            f'{tolerance} px), e.g. row {first}: '
            f'{bboxes[first].tolist()}. Were the proposals computed on '
            'these images?')


def attach_proposals(data_list: list,
                     proposal_file: str,
                     tolerance: float = 2.0,
                     allow_empty: bool = False,
                     proposals: Optional[Dict[str, dict]] = None) -> list:
    """Add validated ``proposals`` to every data_info of a dataset.

    Args:
        data_list (list[dict]): Items with ``img_path``, ``height``,
            ``width``.
        proposal_file (str): The proposal pickle.
        tolerance (float): See :func:`check_proposals`. Defaults to 2.0.
        allow_empty (bool): See :func:`check_proposals`. Defaults to False.
        proposals (dict, optional): Already loaded file content.

    Returns:
        list[dict]: The same list, each item with ``proposals``.
    """
    if proposals is None:
        proposals = load_proposal_file(proposal_file)
    for info in data_list:
        key = proposal_key(info['img_path'])
        if key not in proposals:
            raise ProposalError(
                f'No proposals for image {key!r} (img_id={info["img_id"]}) '
                f'in proposal file {proposal_file} ({len(proposals)} '
                'images). Were the proposals computed for this split?')
        info['proposals'] = check_proposals(proposals[key], key, proposal_file,
                                            info['height'], info['width'],
                                            tolerance, allow_empty)
    return data_list
