# Copyright (c) mmkdwsd authors. All rights reserved.
import numpy as np
import pytest
import torch

from mmkdwsd.registry import METRICS


def _sample(pred_boxes,
            pred_scores,
            pred_labels,
            gt_boxes,
            gt_labels,
            score=None,
            ignored=None):
    sample = dict(
        pred_instances=dict(
            bboxes=torch.tensor(pred_boxes, dtype=torch.float32),
            scores=torch.tensor(pred_scores, dtype=torch.float32),
            labels=torch.tensor(pred_labels, dtype=torch.long)),
        gt_instances=dict(
            bboxes=torch.tensor(gt_boxes, dtype=torch.float32),
            labels=torch.tensor(gt_labels, dtype=torch.long)),
        gt_label=torch.tensor(sorted(set(gt_labels)), dtype=torch.long))
    if ignored is not None:
        sample['ignored_instances'] = dict(
            bboxes=torch.tensor(ignored[0], dtype=torch.float32),
            labels=torch.tensor(ignored[1], dtype=torch.long))
    if score is not None:
        sample['pred_score'] = torch.tensor(score)
    return sample


SAMPLES = [
    # class 0 found (top box exact), class 1's top box misses
    _sample([[0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 5, 5]], [0.9, 0.3, 0.8],
            [0, 0, 1], [[0, 0, 10, 10], [20, 20, 40, 40]], [0, 1],
            score=[0.9, 0.8]),
    # class 0 found (IoU 0.81)
    _sample([[12, 12, 30, 30]], [0.5], [0], [[10, 10, 30, 30]], [0],
            score=[0.6, 0.2]),
]


def _evaluate(samples, **kwargs):
    metric = METRICS.build(dict(type='WSODMetric', **kwargs))
    metric.dataset_meta = dict(classes=('a', 'b'))
    metric.process(None, samples)
    return metric, metric.evaluate(len(samples))


def test_corloc_det_map_and_image_metrics():
    metric, res = _evaluate(SAMPLES)
    assert res['CorLoc'] == pytest.approx(100 * 2 / 3)
    assert res['CorLoc_cls_mean'] == pytest.approx(50.0)
    np.testing.assert_allclose(metric.per_class_corloc, [100.0, 0.0])
    # class 0: TP .9, TP .5, FP .3 over 2 boxes -> AP 1; class 1: AP 0
    assert res['det_mAP'] == pytest.approx(50.0)
    np.testing.assert_allclose(metric.per_class_det_ap, [100.0, 0.0])
    # image-level metrics come from MultiLabelPaperMetric's code
    assert res['mAP'] == pytest.approx(100.0)
    assert 'CF1_top3' in res


def test_ignored_boxes_do_not_count_as_false_positives():
    sample = _sample([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.95], [0, 0],
                     [[0, 0, 10, 10]], [0],
                     ignored=([[20, 20, 30, 30]], [0]))
    _, res = _evaluate([sample])
    assert res['det_mAP'] == pytest.approx(100.0)
    # CorLoc looks at the top box (the ignored one): a miss
    assert res['CorLoc'] == pytest.approx(0.0)
    assert 'mAP' not in res  # no image-level scores given


def test_missing_gt_instances_names_the_fix():
    metric = METRICS.build(dict(type='WSODMetric'))
    sample = dict(SAMPLES[0])
    sample.pop('gt_instances')
    with pytest.raises(KeyError, match='mmdet.LoadAnnotations'):
        metric.process(None, [sample])
