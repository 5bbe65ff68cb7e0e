# Copyright (c) mmkdwsd authors. All rights reserved.
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from mmkdwsd.evaluation import (MultiLabelPaperMetric, average_precision,
                                multilabel_paper_scores)
from mmkdwsd.registry import METRICS

# 4 images x 4 classes; class 3 has no positive.
SCORES = np.array([[0.9, 0.8, 0.6, 0.7], [0.2, 0.6, 0.1, 0.3],
                   [0.7, 0.4, 0.55, 0.1], [0.1, 0.2, 0.3, 0.4]])
LABELS = [[0, 1], [1, 2], [2], [0]]


def _samples(scores=SCORES, labels=LABELS, ignore=None):
    ignore = ignore or [[] for _ in labels]
    return [
        dict(
            pred_score=torch.tensor(s, dtype=torch.float32),
            gt_label=torch.tensor(lb, dtype=torch.long),
            gt_label_ignore=torch.tensor(ig, dtype=torch.long))
        for s, lb, ig in zip(scores, labels, ignore)
    ]


def _evaluate(samples, **kwargs):
    metric = METRICS.build(dict(type='MultiLabelPaperMetric', **kwargs))
    metric.process(None, samples)
    return metric, metric.evaluate(len(samples))


def test_ap_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = np.round(rng.random(50), 1)  # many ties
        targets = rng.random(50) < 0.3
        targets[0] = True
        assert average_precision(scores, targets) == pytest.approx(
            average_precision_score(targets, scores), abs=1e-12)


def test_map_matches_sklearn_and_excludes_empty_classes():
    rng = np.random.default_rng(1)
    scores = rng.random((40, 6))
    gt = rng.random((40, 6)) < 0.3
    gt[:, 4] = False  # no positive
    labels = [np.nonzero(row)[0].tolist() for row in gt]
    metric, res = _evaluate(_samples(scores, labels))
    expected = [
        average_precision_score(gt[:, k], scores[:, k]) * 100 for k in range(6)
        if gt[:, k].any()
    ]
    assert res['mAP'] == pytest.approx(np.mean(expected))
    assert res['num_excluded_classes'] == 1
    assert np.isnan(metric.per_class_ap[4])
    assert metric.per_class_ap[0] == pytest.approx(expected[0])


def test_f1_family_hand_computed():
    _, res = _evaluate(_samples())
    # all labels, score >= 0.5; class 3 (no positive) is left out of CP/CR
    assert res['CP'] == pytest.approx(100 * 2 / 3)
    assert res['CR'] == pytest.approx(100 * 2 / 3)
    assert res['CF1'] == pytest.approx(100 * 2 / 3)
    assert res['OP'] == pytest.approx(100 * 4 / 7)
    assert res['OR'] == pytest.approx(100 * 2 / 3)
    assert res['OF1'] == pytest.approx(100 * 8 / 13)
    # top-3 AND >= 0.5
    assert res['CP_top3'] == pytest.approx(100 * 5 / 6)
    assert res['CR_top3'] == pytest.approx(100 * 2 / 3)
    assert res['CF1_top3'] == pytest.approx(100 * 20 / 27)
    assert res['OP_top3'] == pytest.approx(100 * 2 / 3)
    assert res['OR_top3'] == pytest.approx(100 * 2 / 3)
    assert res['OF1_top3'] == pytest.approx(100 * 2 / 3)
    assert res['mAP'] == pytest.approx(100 * np.mean(
        [0.75, 1.0,
         average_precision_score([0, 1, 1, 0], SCORES[:, 2])]))
    assert res['num_excluded_classes'] == 1
    assert set(res) == {
        'mAP', 'num_excluded_classes', 'CP', 'CR', 'CF1', 'OP', 'OR', 'OF1',
        'CP_top3', 'CR_top3', 'CF1_top3', 'OP_top3', 'OR_top3', 'OF1_top3'
    }


def test_ignored_pairs_are_left_out():
    ignore = [[], [], [0], []]  # image 2, class 0 (a false positive) ignored
    _, res = _evaluate(_samples(ignore=ignore))
    gt = np.zeros((4, 4), bool)
    for i, lb in enumerate(LABELS):
        gt[i, lb] = True
    keep = [0, 1, 3]
    ap0 = average_precision_score(gt[keep, 0], SCORES[keep, 0])
    ap1 = average_precision_score(gt[:, 1], SCORES[:, 1])
    ap2 = average_precision_score(gt[:, 2], SCORES[:, 2])
    assert res['mAP'] == pytest.approx(100 * np.mean([ap0, ap1, ap2]))
    # class 0 now has one prediction (image 0), a true positive
    assert res['CP'] == pytest.approx(100 * (1 + 1 + 0.5) / 3)


def test_score_key_prefix_and_out_file(tmp_path):
    samples = [
        dict(student=dict(pred_score=s['pred_score']), gt_label=s['gt_label'])
        for s in _samples()
    ]
    out = tmp_path / 'ap.json'
    metric, res = _evaluate(
        samples, score_key='student.pred_score', prefix='S', out_file=str(out))
    assert 'S/mAP' in res and 'S/CF1_top3' in res
    dumped = json.loads(out.read_text())
    assert dumped['classes'] == ['0', '1', '2', '3']
    assert dumped['ap'][3] is None
    assert dumped['ap'][0] == pytest.approx(75.0)


def test_function_api_thr_and_topk():
    gt = np.zeros((4, 4), bool)
    for i, lb in enumerate(LABELS):
        gt[i, lb] = True
    res, _ = multilabel_paper_scores(SCORES, gt, thr=0.65, topk=1)
    # top-1 and >= 0.65: img0 -> 0 (TP), img2 -> 0 (FP)
    assert res['OP_top1'] == pytest.approx(50.0)
    assert res['OR_top1'] == pytest.approx(100 / 6)
    assert isinstance(MultiLabelPaperMetric(), MultiLabelPaperMetric)
