# Copyright (c) mmkdwsd authors. All rights reserved.
"""Region proposal methods used by ``tools/generate_proposals.py``.

Every method takes a BGR uint8 image ``(H, W, 3)`` and returns
``(bboxes, scores)``: float32 ``(n, 4)`` xyxy boxes in image pixels and
float32 ``(n,)`` objectness in (0, 1], sorted by score, descending, at most
``topk`` rows and never empty (the whole image is the fallback box).

- ``ss``: OpenCV's Selective Search (opencv-contrib, "fast" mode). It ranks
  its regions but gives no score, so the region of rank r (0-based, after
  dropping boxes smaller than ``min_size`` and duplicates) among the n kept
  gets ``score = 1 - r / (2 n)``: decreasing, in (0.5, 1], so that no region
  feature is zeroed when the teacher multiplies features by objectness.
- ``windows``: multi-scale sliding windows (side 10%-100% of the shorter
  image side, aspect ratios 1:2, 1:1, 2:1, stride half the window), scored
  by the density of Canny edges inside the window divided by the best
  window's, mapped into (0, 1]. Fast and deterministic.
- ``edgeboxes``: OpenCV's EdgeBoxes on structured edges; needs the
  structured-edge model file (``model.yml.gz``), which no pip package ships.
  Scores are divided by the largest one.
"""
from typing import Optional, Tuple

import cv2
import numpy as np

Proposals = Tuple[np.ndarray, np.ndarray]
EDGE_MODEL_HELP = (
    'EdgeBoxes needs a structured-edge model file (model.yml.gz from '
    "OpenCV's opencv_extra test data); no pip package ships it. Pass "
    '--edge-model PATH, or use --method ss / windows.')


def _finish(bboxes: np.ndarray, scores: np.ndarray, height: int, width: int,
            topk: int, min_size: float) -> Proposals:
    """Clip, drop small and duplicate boxes, sort, keep top-k."""
    bboxes = np.asarray(bboxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, width)
    bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, height)
    keep = ((bboxes[:, 2] - bboxes[:, 0]) >= min_size) & (
        (bboxes[:, 3] - bboxes[:, 1]) >= min_size)
    bboxes, scores = bboxes[keep], scores[keep]
    order = np.argsort(-scores, kind='stable')
    bboxes, scores = bboxes[order], scores[order]
    _, first = np.unique(bboxes, axis=0, return_index=True)
    first = np.sort(first)[:topk]
    bboxes, scores = bboxes[first], scores[first]
    if len(bboxes) == 0:
        bboxes = np.array([[0, 0, width, height]], dtype=np.float32)
        scores = np.ones(1, dtype=np.float32)
    return bboxes, scores


def selective_search(img: np.ndarray,
                     topk: int = 500,
                     min_size: float = 4.0) -> Proposals:
    """Selective Search ('fast' mode) with rank-based scores.

    Args:
        img (np.ndarray): BGR uint8 image, shape (H, W, 3).
        topk (int): Maximum number of proposals. Defaults to 500.
        min_size (float): Minimum box side in pixels. Defaults to 4.0.

    Returns:
        tuple[np.ndarray, np.ndarray]: Boxes (n, 4) xyxy, scores (n,).
    """
    if not hasattr(cv2, 'ximgproc'):
        raise ImportError(
            'Selective Search needs opencv-contrib: pip install '
            'opencv-contrib-python-headless==<your opencv-python version>.')
    height, width = img.shape[:2]
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(img)
    ss.switchToSelectiveSearchFast()
    rects = np.asarray(ss.process(), dtype=np.float32).reshape(-1, 4)
    bboxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
    bboxes, _ = _finish(bboxes, -np.arange(len(bboxes), dtype=np.float32),
                        height, width, topk, min_size)
    scores = 1 - np.arange(len(bboxes), dtype=np.float32) / (2 * len(bboxes))
    return bboxes, scores


def sliding_windows(img: np.ndarray,
                    topk: int = 500,
                    min_size: float = 4.0) -> Proposals:
    """Multi-scale sliding windows scored by edge density.

    Args:
        img (np.ndarray): BGR uint8 image, shape (H, W, 3).
        topk (int): Maximum number of proposals. Defaults to 500.
        min_size (float): Minimum box side in pixels. Defaults to 4.0.

    Returns:
        tuple[np.ndarray, np.ndarray]: Boxes (n, 4) xyxy, scores (n,).
    """
    height, width = img.shape[:2]
    edges = cv2.Canny(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), 100, 200) > 0
    integral = cv2.integral(edges.astype(np.uint8)).astype(np.float64)
    boxes = []
    for frac in np.linspace(0.1, 1.0, 10):
        side = frac * min(height, width)
        for ratio in (0.5, 1.0, 2.0):
            w = min(side * np.sqrt(ratio), width)
            h = min(side / np.sqrt(ratio), height)
            xs = np.arange(0, width - w + 1, max(w / 2, 1))
            ys = np.arange(0, height - h + 1, max(h / 2, 1))
            x, y = np.meshgrid(xs, ys)
            boxes.append(np.stack([x, y, x + w, y + h], -1).reshape(-1, 4))
    bboxes = np.round(np.concatenate(boxes)).astype(np.int64)
    bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, width)
    bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, height)
    x1, y1, x2, y2 = bboxes.T
    inside = (
        integral[y2, x2] - integral[y1, x2] - integral[y2, x1] +
        integral[y1, x1])
    density = inside / np.maximum((x2 - x1) * (y2 - y1), 1)
    scores = (density + 1e-3) / (density.max() + 1e-3)
    return _finish(bboxes, scores, height, width, topk, min_size)


def edge_boxes(img: np.ndarray,
               topk: int = 500,
               min_size: float = 4.0,
               edge_model: Optional[str] = None) -> Proposals:
    """EdgeBoxes (OpenCV) on structured edges.

    Args:
        img (np.ndarray): BGR uint8 image, shape (H, W, 3).
        topk (int): Maximum number of proposals. Defaults to 500.
        min_size (float): Minimum box side in pixels. Defaults to 4.0.
        edge_model (str, optional): Structured-edge model file
            (``model.yml.gz``). Required.

    Returns:
        tuple[np.ndarray, np.ndarray]: Boxes (n, 4) xyxy, scores (n,).
    """
    if not edge_model:
        raise ValueError(EDGE_MODEL_HELP)
    height, width = img.shape[:2]
    detector = _edge_detector(edge_model)
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    edges = detector.detectEdges(rgb)
    orientation = detector.computeOrientation(edges)
    edges = detector.edgesNms(edges, orientation)
    eb = cv2.ximgproc.createEdgeBoxes()
    eb.setMaxBoxes(topk * 2)
    rects, scores = eb.getBoundingBoxes(edges, orientation)
    rects = np.asarray(rects, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    bboxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
    if len(scores):
        scores = np.clip(scores / max(scores.max(), 1e-12), 1e-6, 1)
    return _finish(bboxes, scores, height, width, topk, min_size)


_EDGE_DETECTORS: dict = {}


def _edge_detector(path: str):
    """One structured-edge detector per model file and process."""
    if path not in _EDGE_DETECTORS:
        _EDGE_DETECTORS[path] = \
            cv2.ximgproc.createStructuredEdgeDetection(path)
    return _EDGE_DETECTORS[path]


METHODS = dict(
    ss=selective_search, windows=sliding_windows, edgeboxes=edge_boxes)
