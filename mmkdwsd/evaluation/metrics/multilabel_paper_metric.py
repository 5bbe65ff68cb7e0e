# Copyright (c) mmkdwsd authors. All rights reserved.
"""Multi-label metrics as the multi-label classification papers report them.

Conventions (see ``shared/notes/paper.md``):

- mAP: mean over classes of the non-interpolated average precision
  (identical to scikit-learn's ``average_precision_score``, ties included).
  Classes without a positive in the evaluated set are excluded; their count
  is reported as ``num_excluded_classes``.
- CP, CR: per-class precision / recall averaged over the same evaluated
  classes (a class with no prediction has precision 0);
  CF1 = 2 * CP * CR / (CP + CR), not the mean of per-class F1.
- OP, OR, OF1: the same pooled over all (image, class) pairs.
- "all": a label is predicted when its score >= ``thr``; "top-k": when it is
  among the image's k highest scores AND its score >= ``thr``.
- (image, class) pairs listed in ``gt_label_ignore`` are left out of every
  metric (VOC "difficult"-only classes).

All values are percentages.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmkdwsd.registry import METRICS


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Non-interpolated AP of one class, tie-aware like scikit-learn.

    Args:
        scores (np.ndarray): Scores, shape (n,).
        targets (np.ndarray): 0/1 ground truth, shape (n,), with at least one
            positive.

    Returns:
        float: AP in [0, 1].
    """
    order = np.argsort(-scores, kind='mergesort')
    scores, targets = scores[order], targets[order].astype(np.float64)
    tp, fp = np.cumsum(targets), np.cumsum(1 - targets)
    # the last index of each run of equal scores is one threshold
    last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _prf(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray,
         evaluated: np.ndarray) -> Dict[str, float]:
    """CP, CR, CF1, OP, OR, OF1 of 0/1 predictions, in percent."""
    tp = (pred & gt & valid).sum(0).astype(np.float64)
    num_pred = (pred & valid).sum(0).astype(np.float64)
    num_gt = (gt & valid).sum(0).astype(np.float64)
    prec = np.divide(tp, num_pred, out=np.zeros_like(tp), where=num_pred > 0)
    rec = np.divide(tp, num_gt, out=np.zeros_like(tp), where=num_gt > 0)
    cp = prec[evaluated].mean() if evaluated.any() else 0.0
    cr = rec[evaluated].mean() if evaluated.any() else 0.0
    op = tp.sum() / num_pred.sum() if num_pred.sum() > 0 else 0.0
    orr = tp.sum() / num_gt.sum() if num_gt.sum() > 0 else 0.0

    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    values = dict(CP=cp, CR=cr, CF1=f1(cp, cr), OP=op, OR=orr, OF1=f1(op, orr))
    return {k: float(v) * 100 for k, v in values.items()}


def multilabel_paper_scores(
        scores: np.ndarray,
        gt: np.ndarray,
        valid: Optional[np.ndarray] = None,
        thr: float = 0.5,
        topk: int = 3) -> Tuple[Dict[str, float], np.ndarray]:
    """Compute mAP and the F1 family (all labels and top-k).

    Args:
        scores (np.ndarray): Scores, shape (N, K).
        gt (np.ndarray): 0/1 targets, shape (N, K).
        valid (np.ndarray, optional): Bool mask, shape (N, K); False pairs
            are ignored. Defaults to all True.
        thr (float): Score threshold. Defaults to 0.5.
        topk (int): k of the top-k variant. Defaults to 3.

    Returns:
        tuple[dict, np.ndarray]: Metrics (``mAP``, ``CP`` ... ``OF1``,
        ``CP_top{k}`` ... ``OF1_top{k}``, ``num_excluded_classes``) and the
        per-class AP in percent, shape (K,), NaN for excluded classes.
    """
    scores = np.asarray(scores, dtype=np.float64)
    gt = np.asarray(gt).astype(bool)
    valid = np.ones_like(gt) if valid is None else np.asarray(valid, bool)
    num_classes = scores.shape[1]
    per_class_ap = np.full(num_classes, np.nan)
    evaluated = (gt & valid).sum(0) > 0
    for k in np.nonzero(evaluated)[0]:
        keep = valid[:, k]
        per_class_ap[k] = 100 * average_precision(scores[keep, k], gt[keep, k])
    metrics = dict(
        mAP=float(np.nanmean(per_class_ap)) if evaluated.any() else 0.0,
        num_excluded_classes=int(num_classes - evaluated.sum()))
    metrics.update(_prf(scores >= thr, gt, valid, evaluated))
    rank = np.argsort(np.argsort(-scores, axis=1, kind='stable'), axis=1)
    top = (rank < topk) & (scores >= thr)
    metrics.update({
        f'{k}_top{topk}': v
        for k, v in _prf(top, gt, valid, evaluated).items()
    })
    return metrics, per_class_ap


def _get(sample: dict, key: str):
    """``sample[key]``, where a dotted key walks nested dicts."""
    value = sample
    for part in key.split('.'):
        value = value[part]
    return value


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def labels_to_targets(samples: Sequence[dict],
                      num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """0/1 targets and validity mask from per-sample label indices.

    Args:
        samples (Sequence[dict]): Items with ``gt_label`` and optional
            ``gt_label_ignore`` (class indices).
        num_classes (int): K.

    Returns:
        tuple[np.ndarray, np.ndarray]: Targets (N, K) bool, valid (N, K)
        bool.
    """
    gt = np.zeros((len(samples), num_classes), dtype=bool)
    valid = np.ones_like(gt)
    for i, sample in enumerate(samples):
        gt[i, sample['gt_label']] = True
        valid[i, sample['gt_label_ignore']] = False
    return gt, valid


@METRICS.register_module()
class MultiLabelPaperMetric(BaseMetric):
    """mAP, CP/CR/CF1, OP/OR/OF1 (all and top-k) as published.

    Unlike mmpretrain's ``MultiLabelMetric`` (mean of per-class F1, top-k
    without threshold), this gives the CF1/OF1 of the multi-label papers;
    see the module docstring for the exact conventions.

    Args:
        score_key (str): Key of the ``(K,)`` score vector in each data
            sample; dots walk nested dicts. Defaults to ``'pred_score'``.
        thr (float): Score threshold. Defaults to 0.5.
        topk (int): k of the top-k metrics. Defaults to 3.
        out_file (str, optional): If set, per-class AP is dumped there as
            json (``classes``, ``ap``). Defaults to None.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric keys. Defaults to None.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 score_key: str = 'pred_score',
                 thr: float = 0.5,
                 topk: int = 3,
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.score_key = score_key
        self.thr = thr
        self.topk = topk
        self.out_file = out_file
        self.per_class_ap: Optional[np.ndarray] = None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep scores and labels of a batch.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Outputs as dicts with
                ``score_key``, ``gt_label`` and optional ``gt_label_ignore``.
        """
        for sample in data_samples:
            self.results.append(
                dict(
                    score=_to_numpy(_get(sample, self.score_key)).astype(
                        np.float32).reshape(-1),
                    gt_label=_to_numpy(sample['gt_label']).astype(
                        np.int64).reshape(-1),
                    gt_label_ignore=_to_numpy(
                        sample.get('gt_label_ignore',
                                   [])).astype(np.int64).reshape(-1)))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the metrics over the whole set.

        Args:
            results (list[dict]): Outputs of :meth:`process`.

        Returns:
            dict[str, float]: Metric values (percent) and
            ``num_excluded_classes``.
        """
        scores = np.stack([r['score'] for r in results])
        gt, valid = labels_to_targets(results, scores.shape[1])
        metrics, self.per_class_ap = multilabel_paper_scores(
            scores, gt, valid, self.thr, self.topk)
        if self.out_file:
            self._dump_per_class_ap()
        return metrics

    def _dump_per_class_ap(self) -> None:
        """Write per-class AP (NaN as null) to ``out_file`` atomically."""
        from mmkdwsd.utils.fileio import atomic_dump_json
        classes = (self.dataset_meta or {}).get('classes') or [
            str(k) for k in range(len(self.per_class_ap))
        ]
        ap = [None if np.isnan(v) else float(v) for v in self.per_class_ap]
        atomic_dump_json(dict(classes=list(classes), ap=ap), self.out_file)
