# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmdet.evaluation.functional import eval_map
from mmengine.evaluator import BaseMetric

from mmkdwsd.registry import METRICS
from .multilabel_paper_metric import (_get, _to_numpy, labels_to_targets,
                                      multilabel_paper_scores)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box (4,) with boxes (n, 4), shape (n,)."""
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    union = np.prod(box[2:] - box[:2]) + np.prod(
        boxes[:, 2:] - boxes[:, :2], axis=1) - inter
    return inter / np.maximum(union, 1e-12)


@METRICS.register_module()
class WSODMetric(BaseMetric):
    """Metrics of a weakly-supervised detector (the teacher).

    - ``CorLoc``: fraction of (image, present class) pairs whose
      top-scoring predicted box of that class has IoU >= ``iou_thr`` with a
      true box of that class (a pair without any predicted box of the class
      counts as a miss). Present classes are those of the non-ignored true
      boxes. ``CorLoc_cls_mean`` averages the per-class CorLoc instead (the
      number WSOD papers tabulate per class).
    - ``det_mAP``: VOC-style detection mAP at ``iou_thr`` (mmdet's
      ``eval_map``; ignored true boxes neither count nor penalise).
    - If every sample has ``score_key`` (the image-level scores), the
      image-level metrics of :class:`MultiLabelPaperMetric` (``mAP``,
      ``CF1``, ``OF1``, ..., top-k) are added.

    Predictions (``pred_instances``: bboxes, scores, labels) and true boxes
    (``gt_instances``, ``ignored_instances``) must be in original-image
    coordinates: load the boxes after the resize in the evaluation pipeline
    (``mmdet.LoadAnnotations(with_bbox=True)`` after ``mmdet.Resize``, as
    mmdet's test pipelines do). Values are percentages.

    Args:
        iou_thr (float): IoU threshold. Defaults to 0.5.
        eval_mode (str): ``'area'`` or ``'11points'`` AP. Defaults to
            ``'area'``.
        score_key (str): Key of the image-level scores. Defaults to
            ``'pred_score'``.
        thr (float): Threshold of the image-level F1 family. Defaults to 0.5.
        topk (int): k of the image-level top-k metrics. Defaults to 3.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric keys. Defaults to None.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 iou_thr: float = 0.5,
                 eval_mode: str = 'area',
                 score_key: str = 'pred_score',
                 thr: float = 0.5,
                 topk: int = 3,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.iou_thr = iou_thr
        self.eval_mode = eval_mode
        self.score_key = score_key
        self.thr = thr
        self.topk = topk
        self.per_class_corloc: Optional[np.ndarray] = None
        self.per_class_det_ap: Optional[np.ndarray] = None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep predictions and true boxes of a batch (as numpy).

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Outputs as dicts with
                ``pred_instances``, ``gt_instances``, optional
                ``ignored_instances``, ``gt_label``, ``gt_label_ignore`` and
                ``score_key``.
        """
        for sample in data_samples:
            if 'gt_instances' not in sample:
                raise KeyError(
                    'WSODMetric needs true boxes: add '
                    "dict(type='mmdet.LoadAnnotations', with_bbox=True) to the"
                    ' evaluation pipeline (after the resize).')
            pred, gt = sample['pred_instances'], sample['gt_instances']
            ignored = sample.get('ignored_instances', {})
            result = dict(
                pred_bboxes=_to_numpy(pred['bboxes']).reshape(-1, 4),
                pred_scores=_to_numpy(pred['scores']).reshape(-1),
                pred_labels=_to_numpy(pred['labels']).reshape(-1),
                gt_bboxes=_to_numpy(gt['bboxes']).reshape(-1, 4),
                gt_labels=_to_numpy(gt['labels']).reshape(-1),
                ignore_bboxes=_to_numpy(ignored.get('bboxes',
                                                    [])).reshape(-1, 4),
                ignore_labels=_to_numpy(ignored.get('labels', [])).reshape(-1),
                gt_label=_to_numpy(sample.get('gt_label', [])).astype(
                    np.int64).reshape(-1),
                gt_label_ignore=_to_numpy(sample.get(
                    'gt_label_ignore', [])).astype(np.int64).reshape(-1))
            try:
                result['score'] = _to_numpy(_get(
                    sample, self.score_key)).astype(np.float32).reshape(-1)
            except KeyError:
                pass
            self.results.append(result)

    def _num_classes(self, results: List[dict]) -> int:
        classes = (self.dataset_meta or {}).get('classes')
        if classes:
            return len(classes)
        if all('score' in r for r in results):
            return len(results[0]['score'])
        labels = [r[k] for r in results for k in ('pred_labels', 'gt_labels')]
        return int(max((x.max() + 1 for x in labels if len(x)), default=1))

    def corloc(self, results: List[dict],
               num_classes: int) -> Dict[str, float]:
        """CorLoc pooled over pairs and averaged over classes, in percent.

        Args:
            results (list[dict]): Outputs of :meth:`process`.
            num_classes (int): K.

        Returns:
            dict[str, float]: ``CorLoc`` and ``CorLoc_cls_mean``.
        """
        hits = np.zeros(num_classes)
        pairs = np.zeros(num_classes)
        for r in results:
            for c in np.unique(r['gt_labels']):
                pairs[c] += 1
                mask = r['pred_labels'] == c
                if not mask.any():
                    continue
                best = r['pred_bboxes'][mask][np.argmax(
                    r['pred_scores'][mask])]
                gts = r['gt_bboxes'][r['gt_labels'] == c]
                hits[c] += float(_iou(best, gts).max() >= self.iou_thr)
        self.per_class_corloc = np.where(
            pairs > 0, hits / np.maximum(pairs, 1), np.nan) * 100
        return dict(
            CorLoc=float(hits.sum() / max(pairs.sum(), 1) * 100),
            CorLoc_cls_mean=float(np.nanmean(self.per_class_corloc)) if
            (pairs > 0).any() else 0.0)

    def det_map(self, results: List[dict], num_classes: int) -> float:
        """VOC-style detection mAP at ``iou_thr`` in percent.

        Args:
            results (list[dict]): Outputs of :meth:`process`.
            num_classes (int): K.

        Returns:
            float: mAP over classes with true boxes.
        """
        dets, anns = [], []
        for r in results:
            det = np.hstack([r['pred_bboxes'], r['pred_scores'][:, None]])
            dets.append(
                [det[r['pred_labels'] == c] for c in range(num_classes)])
            anns.append(
                dict(
                    bboxes=r['gt_bboxes'],
                    labels=r['gt_labels'],
                    bboxes_ignore=r['ignore_bboxes'],
                    labels_ignore=r['ignore_labels']))
        mean_ap, per_class = eval_map(
            dets,
            anns,
            iou_thr=self.iou_thr,
            logger='silent',
            nproc=1,
            eval_mode=self.eval_mode)
        self.per_class_det_ap = np.array(
            [c['ap'] * 100 if c['num_gts'] > 0 else np.nan for c in per_class])
        return float(mean_ap) * 100

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute CorLoc, detection mAP and image-level metrics.

        Args:
            results (list[dict]): Outputs of :meth:`process`.

        Returns:
            dict[str, float]: Metric values in percent.
        """
        num_classes = self._num_classes(results)
        metrics = self.corloc(results, num_classes)
        metrics['det_mAP'] = self.det_map(results, num_classes)
        if all('score' in r for r in results):
            scores = np.stack([r['score'] for r in results])
            gt, valid = labels_to_targets(results, scores.shape[1])
            image_metrics, _ = multilabel_paper_scores(scores, gt, valid,
                                                       self.thr, self.topk)
            metrics.update(image_metrics)
        return metrics
